package queue

// Reading batches from a cursor.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/golang/snappy"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Batch is records read from the queue, not yet committed.
type Batch struct {
	// Proto is the records' protobuf WriteRequests, concatenated: itself a
	// valid WriteRequest holding all their series.
	Proto   []byte
	Samples int
	raw     []byte // the segment bytes read, kept for the next ReadInto
	next    Position
	start   Position
	cursor  *Cursor
	// consumed counts every sample passed over: delivered, expired or corrupt.
	consumed int
	// Passed over, counted as dropped when the batch is committed (a batch
	// read again after a failed push counts them once).
	expired, corrupt, corruptTails int
}

// Decode parses the batch's series.
func (b *Batch) Decode() (*wire.WriteRequest, error) {
	var r wire.WriteRequest
	if err := wire.Decode(b.Proto, &r); err != nil {
		return nil, fmt.Errorf("queue: batch: %w", err)
	}
	return &r, nil
}

// Read collects records from the cursor until the batch holds at least
// maxSamples samples or the queue ends. It does not move the cursor: call
// Commit once the batch is delivered. Expired and corrupt records are
// skipped and counted.
func (c *Cursor) Read(maxSamples int) (*Batch, error) {
	b := new(Batch)
	if err := c.ReadInto(b, maxSamples); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadInto is Read into b, reusing its buffers: a pusher that keeps one
// Batch allocates nothing per batch once they have grown.
func (c *Cursor) ReadInto(b *Batch, maxSamples int) error {
	q := c.q
	q.mu.Lock()
	pos := c.pos
	segs := slices.Clone(q.segs)
	q.mu.Unlock()
	*b = Batch{Proto: b.Proto[:0], raw: b.raw[:0], next: pos, start: pos, cursor: c}
	oldest := q.opts.Now().Add(-q.opts.MaxAge)
	for _, s := range segs {
		if s.id < pos.Segment {
			continue
		}
		if s.id > pos.Segment {
			pos = Position{Segment: s.id}
		}
		data, err := readFrom(segName(q.opts.Dir, s.id), pos.Offset, b.raw[:0])
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // dropped as full meanwhile
			}
			return fmt.Errorf("queue: read: %w", err)
		}
		b.raw = data
		var off int64
		for off < int64(len(data)) {
			n, rec, err := parseRecord(data[off:])
			if err != nil {
				if s.id != segs[len(segs)-1].id {
					b.corruptTails++
					q.opts.Logger.Error("queue: corrupt record, skipping the rest of the segment", "segment", s.id, "offset", pos.Offset+off)
					off = int64(len(data))
				}
				break // the writer may be mid-record in the last segment
			}
			off += n
			b.next = Position{Segment: s.id, Offset: pos.Offset + off}
			b.consumed += rec.samples
			if rec.created.Before(oldest) {
				b.expired += rec.samples
				continue
			}
			dl, err := snappy.DecodedLen(rec.payload)
			if err == nil {
				start := len(b.Proto)
				b.Proto = slices.Grow(b.Proto, dl)[:start+dl]
				_, err = snappy.Decode(b.Proto[start:], rec.payload)
				if err != nil {
					b.Proto = b.Proto[:start]
				}
			}
			if err != nil {
				b.corrupt += rec.samples
				continue
			}
			b.Samples += rec.samples
			if b.Samples >= maxSamples {
				return nil
			}
		}
		pos = Position{Segment: s.id, Offset: pos.Offset + off}
		if off == int64(len(data)) && s.id != segs[len(segs)-1].id {
			b.next = Position{Segment: s.id + 1}
		}
	}
	return nil
}

// readFrom appends what the file holds from off on to buf.
func readFrom(path string, off int64, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return buf, err
	}
	// The writer may append meanwhile: read what the size said, and
	// whatever more arrived after it on the next batch.
	n := max(fi.Size()-off, 0)
	buf = slices.Grow(buf, int(n))[:n]
	m, err := f.ReadAt(buf, off)
	if err == io.EOF {
		err = nil
	}
	return buf[:m], err
}
