package queue

// Appending: group commit of the records of a few milliseconds with one
// write and one fsync.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"time"

	"github.com/golang/snappy"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// ErrWrite wraps a failure to write to disk (such as a full disk): the
// batch was not accepted; what was accepted before is intact.
var ErrWrite = errors.New("queue: write failed")

// encodePool holds protobuf encodings; recPool the records waiting in a
// group, returned once the group is written.
var (
	encodePool = sync.Pool{New: func() any { return new([]byte) }}
	recPool    = sync.Pool{New: func() any { return new([]byte) }}
)

// group is one group commit: the records appended while the previous
// group was being written, made durable by one write and one fsync.
type group struct {
	recs    []*[]byte // from recPool
	samples []int
	done    chan struct{}
	err     error
}

// Append writes series durably: it returns once they are on disk (fsync),
// sharing the write and the fsync with the appends of the same few
// milliseconds (Options.CommitDelay). When the queue would pass MaxBytes
// the oldest segments are dropped first.
func (q *Queue) Append(series []wire.Series) error {
	req := wire.WriteRequest{Series: series}
	samples := req.Samples()
	buf := encodePool.Get().(*[]byte)
	pb := wire.AppendRequest((*buf)[:0], &req)
	rp := recPool.Get().(*[]byte)
	rec := slices.Grow((*rp)[:0], headerSize+snappy.MaxEncodedLen(len(pb)))[:headerSize+snappy.MaxEncodedLen(len(pb))]
	payload := snappy.Encode(rec[headerSize:], pb)
	*buf = pb
	encodePool.Put(buf)
	rec = rec[:headerSize+len(payload)]
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(payload, crcTable))
	binary.LittleEndian.PutUint64(rec[8:], uint64(q.opts.Now().UnixMilli()))
	binary.LittleEndian.PutUint32(rec[16:], uint32(samples))

	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("%w: queue closed", ErrWrite)
	}
	g := q.next
	*rp = rec
	g.recs = append(g.recs, rp)
	g.samples = append(g.samples, samples)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
	<-g.done
	if g.err != nil {
		q.metrics.dropped.WithLabelValues("write_error").Add(float64(samples))
		return g.err
	}
	q.metrics.appended.Add(float64(samples))
	for _, c := range q.cursors {
		select {
		case c.notEmpty <- struct{}{}:
		default:
		}
	}
	return nil
}

// flusher writes and syncs each group, one at a time.
func (q *Queue) flusher() {
	defer close(q.flushed)
	for {
		_, open := <-q.kick
		if open && q.opts.CommitDelay > 0 {
			time.Sleep(q.opts.CommitDelay)
		}
		q.mu.Lock()
		g := q.next
		q.next = &group{done: make(chan struct{})}
		q.mu.Unlock()
		if len(g.recs) > 0 {
			g.err = q.writeGroup(g)
			for _, rp := range g.recs {
				recPool.Put(rp)
			}
		}
		close(g.done)
		if !open {
			return
		}
	}
}

// writeGroup appends g's records to the segments and syncs them. On an
// error the current segment is cut back so it stays readable.
func (q *Queue) writeGroup(g *group) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	buf := q.wbuf[:0]
	defer func() { q.wbuf = buf[:0] }()
	var bufSamples int
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		cur := q.segs[len(q.segs)-1]
		if n, err := q.w.Write(buf); err != nil {
			if n > 0 {
				q.w.Truncate(cur.size)
			}
			return fmt.Errorf("%w: %w", ErrWrite, err)
		}
		if err := q.w.Sync(); err != nil {
			q.w.Truncate(cur.size)
			return fmt.Errorf("%w: sync: %w", ErrWrite, err)
		}
		cur.size += int64(len(buf))
		cur.samples += bufSamples
		for _, c := range q.cursors {
			c.pending += bufSamples
		}
		buf, bufSamples = buf[:0], 0
		return nil
	}
	for i, rp := range g.recs {
		rec := *rp
		cur := q.segs[len(q.segs)-1]
		if cur.size+int64(len(buf)) > 0 && cur.size+int64(len(buf)+len(rec)) > q.opts.SegmentBytes {
			if err := flush(); err != nil {
				return err
			}
			if err := q.newSegment(cur.id + 1); err != nil {
				return fmt.Errorf("%w: %w", ErrWrite, err)
			}
		}
		buf = append(buf, rec...)
		bufSamples += g.samples[i]
	}
	if err := flush(); err != nil {
		return err
	}
	q.enforceMaxBytes()
	q.updateBytes()
	return nil
}
