// Package queue is the agent's durable queue: every batch of samples is
// written and synced to disk before Append returns, and delivered in order
// from a persisted read cursor. It is bounded by bytes and by age; when
// full, the oldest segments go first and their samples are counted.
//
// On disk: numbered segment files of records
//
//	[length u32][crc32c u32][created unix ms i64][samples u32][snappy(protobuf WriteRequest)]
//
// and a "cursor" file naming the next record to deliver. A torn record at
// the end of the last segment (a crash mid-write) is cut off at open.
package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

const headerSize = 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Options configure a Queue.
type Options struct {
	Dir string
	// MaxBytes bounds the queue on disk (default 256 MiB).
	MaxBytes int64
	// MaxAge drops samples queued longer than this (default 24h).
	MaxAge time.Duration
	// SegmentBytes is the size at which a new segment starts (default 4 MiB).
	SegmentBytes int64
	// CommitDelay gathers appends for one write and fsync (default 10ms;
	// negative: none).
	CommitDelay time.Duration
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// Subsystem names its metrics, bulwark_<subsystem>_* (default
	// agent_queue; the collector's InfluxDB sink has its own).
	Subsystem string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

type segment struct {
	id      int
	size    int64
	samples int
}

// Queue is a durable FIFO of sample batches.
type Queue struct {
	opts    Options
	metrics *metrics

	mu       sync.Mutex
	segs     []*segment // oldest first; the last is being written
	w        *os.File
	cursor   Position
	pending  int // samples after the cursor
	notEmpty chan struct{}

	cursorFile *os.File

	next    *group // collecting appends
	wbuf    []byte // the flusher's write buffer, reused
	kick    chan struct{}
	flushed chan struct{}
	closed  bool
}

// Position names a record: its segment and byte offset.
type Position struct {
	Segment int
	Offset  int64
}

type metrics struct {
	dropped  *prometheus.CounterVec
	bytes    prometheus.Gauge
	appended prometheus.Counter
}

// Open opens or creates the queue in opts.Dir and recovers from a crash.
func Open(opts Options) (*Queue, error) {
	if opts.Dir == "" {
		return nil, errors.New("queue: Dir is required")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 24 * time.Hour
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 4 << 20
	}
	opts.SegmentBytes = min(opts.SegmentBytes, opts.MaxBytes/4+1)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CommitDelay == 0 {
		opts.CommitDelay = 10 * time.Millisecond
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	f := promauto.With(opts.Registerer)
	sub := opts.Subsystem
	if sub == "" {
		sub = "agent_queue"
	}
	q := &Queue{opts: opts, notEmpty: make(chan struct{}, 1), kick: make(chan struct{}, 1), flushed: make(chan struct{}),
		next: &group{done: make(chan struct{})}, metrics: &metrics{
			dropped: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: sub, Name: "dropped_samples_total",
				Help: "Samples dropped from the disk queue, by reason (full, expired, corrupt, write_error)."}, []string{"reason"}),
			bytes: f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: sub, Name: "bytes",
				Help: "Bytes in the disk queue's segments."}),
			appended: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: sub, Name: "appended_samples_total",
				Help: "Samples written durably to the disk queue."}),
		}}
	if err := q.recover(); err != nil {
		return nil, err
	}
	go q.flusher()
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: sub, Name: "pending_samples",
		Help: "Samples on disk waiting for delivery."}, func() float64 { return float64(q.Pending()) })
	return q, nil
}

func segName(dir string, id int) string { return filepath.Join(dir, fmt.Sprintf("%08d.seg", id)) }

func (q *Queue) recover() error {
	entries, err := os.ReadDir(q.opts.Dir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		id, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		q.segs = append(q.segs, &segment{id: id})
	}
	slices.SortFunc(q.segs, func(a, b *segment) int { return a.id - b.id })
	for i, s := range q.segs {
		size, samples, err := scan(segName(q.opts.Dir, s.id), i == len(q.segs)-1)
		if err != nil {
			return err
		}
		s.size, s.samples = size, samples
	}
	q.cursor = q.readCursor()
	if len(q.segs) == 0 || q.cursor.Segment > q.segs[len(q.segs)-1].id {
		if err := q.newSegment(max(q.cursor.Segment, 1)); err != nil {
			return err
		}
		q.cursor = Position{Segment: q.segs[len(q.segs)-1].id}
	} else {
		last := q.segs[len(q.segs)-1]
		f, err := os.OpenFile(segName(q.opts.Dir, last.id), os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		q.w = f
	}
	if q.cursor.Segment < q.segs[0].id {
		q.cursor = Position{Segment: q.segs[0].id}
	}
	for _, s := range q.segs {
		if s.id >= q.cursor.Segment {
			q.pending += s.samples
		}
	}
	if q.cursor.Offset > 0 {
		data, err := readFrom(segName(q.opts.Dir, q.cursor.Segment), 0, nil)
		if err == nil && int64(len(data)) >= q.cursor.Offset {
			_, before, _ := scanBytes(data[:q.cursor.Offset])
			q.pending -= before
		}
	}
	q.updateBytes()
	return q.writeCursor()
}

// scan validates a segment, counting its samples. In the last segment a
// torn or corrupt tail is truncated (the crash happened mid-write).
func scan(path string, last bool) (int64, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("queue: %w", err)
	}
	off, samples, _ := scanBytes(b)
	if off < int64(len(b)) && last {
		if err := os.Truncate(path, off); err != nil {
			return 0, 0, fmt.Errorf("queue: truncate torn tail of %s: %w", path, err)
		}
		return off, samples, nil
	}
	return int64(len(b)), samples, nil
}

// scanBytes walks the valid records at the start of b.
func scanBytes(b []byte) (off int64, samples, records int) {
	for {
		n, rec, err := parseRecord(b[off:])
		if err != nil {
			return off, samples, records
		}
		samples += rec.samples
		records++
		off += n
	}
}

type record struct {
	created time.Time
	samples int
	payload []byte
}

var errTorn = errors.New("torn or corrupt record")

func parseRecord(b []byte) (int64, record, error) {
	if len(b) < headerSize {
		return 0, record{}, errTorn
	}
	l := int64(binary.LittleEndian.Uint32(b[0:]))
	if int64(len(b)) < headerSize+l {
		return 0, record{}, errTorn
	}
	payload := b[headerSize : headerSize+l]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, record{}, errTorn
	}
	return headerSize + l, record{
		created: time.UnixMilli(int64(binary.LittleEndian.Uint64(b[8:]))),
		samples: int(binary.LittleEndian.Uint32(b[16:])),
		payload: payload,
	}, nil
}

// The cursor file has a fixed size and is overwritten in place, so that
// committing needs no new disk blocks: delivery must go on when the disk
// is full. Its checksum catches a torn write; then delivery restarts at the
// oldest record, and the collector stores repeated samples once.
const cursorSize = 40

func (q *Queue) readCursor() Position {
	b, err := os.ReadFile(filepath.Join(q.opts.Dir, "cursor"))
	if err != nil {
		return Position{}
	}
	var p Position
	var sum uint32
	if _, err := fmt.Sscanf(string(b), "%d %d %d", &p.Segment, &p.Offset, &sum); err != nil || sum != cursorSum(p) {
		q.opts.Logger.Warn("queue: unreadable cursor, starting from the oldest record")
		return Position{}
	}
	return p
}

func cursorSum(p Position) uint32 {
	return crc32.Checksum(fmt.Appendf(nil, "%d %d", p.Segment, p.Offset), crcTable)
}

// writeCursor persists q.cursor. Called with q.mu held.
func (q *Queue) writeCursor() error {
	if q.cursorFile == nil {
		f, err := os.OpenFile(filepath.Join(q.opts.Dir, "cursor"), os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("queue: open cursor: %w", err)
		}
		q.cursorFile = f
	}
	line := fmt.Appendf(nil, "%d %d %d", q.cursor.Segment, q.cursor.Offset, cursorSum(q.cursor))
	buf := make([]byte, cursorSize)
	for i := range buf {
		buf[i] = ' '
	}
	copy(buf, line)
	buf[cursorSize-1] = '\n'
	if _, err := q.cursorFile.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	if err := q.cursorFile.Sync(); err != nil {
		return fmt.Errorf("queue: sync cursor: %w", err)
	}
	return nil
}

func (q *Queue) newSegment(id int) error {
	f, err := os.OpenFile(segName(q.opts.Dir, id), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("queue: new segment: %w", err)
	}
	if q.w != nil {
		if err := q.w.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("queue: sync segment: %w", err)
		}
		q.w.Close()
	}
	q.w = f
	q.segs = append(q.segs, &segment{id: id})
	return syncDir(q.opts.Dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

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
	select {
	case q.notEmpty <- struct{}{}:
	default:
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
		q.pending += bufSamples
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

// enforceMaxBytes drops the oldest whole segments while over the bound.
// Called with q.mu held.
func (q *Queue) enforceMaxBytes() {
	for q.total() > q.opts.MaxBytes && len(q.segs) > 1 {
		old := q.segs[0]
		undelivered := old.samples
		if q.cursor.Segment > old.id {
			undelivered = 0
		}
		if err := os.Remove(segName(q.opts.Dir, old.id)); err != nil {
			q.opts.Logger.Error("queue: remove segment", "segment", old.id, "err", err)
			return
		}
		q.segs = q.segs[1:]
		if q.cursor.Segment == old.id {
			undelivered = q.pending - q.pendingAfter(old.id)
		}
		q.pending -= undelivered
		if undelivered > 0 {
			q.metrics.dropped.WithLabelValues("full").Add(float64(undelivered))
			q.opts.Logger.Warn("queue full: dropped the oldest segment", "samples", undelivered, "max_bytes", q.opts.MaxBytes)
		}
		if q.cursor.Segment <= old.id {
			q.cursor = Position{Segment: q.segs[0].id}
		}
	}
}

// pendingAfter counts the samples of segments after id. Called with q.mu held.
func (q *Queue) pendingAfter(id int) int {
	n := 0
	for _, s := range q.segs {
		if s.id > id {
			n += s.samples
		}
	}
	return n
}

func (q *Queue) total() int64 {
	var n int64
	for _, s := range q.segs {
		n += s.size
	}
	return n
}

func (q *Queue) updateBytes() { q.metrics.bytes.Set(float64(q.total())) }

// NotEmpty is signalled after each Append.
func (q *Queue) NotEmpty() <-chan struct{} { return q.notEmpty }

// Batch is records read from the queue, not yet committed.
type Batch struct {
	// Proto is the records' protobuf WriteRequests, concatenated: itself a
	// valid WriteRequest holding all their series.
	Proto   []byte
	Samples int
	raw     []byte // the segment bytes read, kept for the next ReadInto
	next    Position
	start   Position
	// consumed counts every sample passed over: delivered, expired or corrupt.
	consumed int
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
func (q *Queue) Read(maxSamples int) (*Batch, error) {
	b := new(Batch)
	if err := q.ReadInto(b, maxSamples); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadInto is Read into b, reusing its buffers: a pusher that keeps one
// Batch allocates nothing per batch once they have grown.
func (q *Queue) ReadInto(b *Batch, maxSamples int) error {
	q.mu.Lock()
	pos := q.cursor
	segs := slices.Clone(q.segs)
	q.mu.Unlock()
	*b = Batch{Proto: b.Proto[:0], raw: b.raw[:0], next: pos, start: pos}
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
					q.metrics.dropped.WithLabelValues("corrupt").Add(1)
					q.opts.Logger.Error("queue: corrupt record, skipping the rest of the segment", "segment", s.id, "offset", pos.Offset+off)
					off = int64(len(data))
				}
				break // the writer may be mid-record in the last segment
			}
			off += n
			b.next = Position{Segment: s.id, Offset: pos.Offset + off}
			b.consumed += rec.samples
			if rec.created.Before(oldest) {
				q.metrics.dropped.WithLabelValues("expired").Add(float64(rec.samples))
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
				q.metrics.dropped.WithLabelValues("corrupt").Add(float64(rec.samples))
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

// Commit moves the cursor past b, persists it, and removes segments that
// are fully delivered.
func (q *Queue) Commit(b *Batch) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if b.next.Segment < q.cursor.Segment || b.next.Segment == q.cursor.Segment && b.next.Offset <= q.cursor.Offset {
		return nil
	}
	if b.start == q.cursor {
		q.pending -= b.consumed
	} else {
		// Segments were dropped as full while the batch was in flight.
		q.pending = max(q.pending-b.consumed, 0)
	}
	q.cursor = b.next
	if err := q.writeCursor(); err != nil {
		return err
	}
	for len(q.segs) > 1 && q.segs[0].id < q.cursor.Segment {
		if err := os.Remove(segName(q.opts.Dir, q.segs[0].id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("queue: remove delivered segment: %w", err)
		}
		q.segs = q.segs[1:]
	}
	q.updateBytes()
	return nil
}

// Pending reports the samples waiting for delivery.
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Close writes what was appended, then closes the segment being written.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.mu.Unlock()
	close(q.kick)
	<-q.flushed
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.cursorFile != nil {
		q.cursorFile.Close()
		q.cursorFile = nil
	}
	if q.w == nil {
		return nil
	}
	err := q.w.Sync()
	if cerr := q.w.Close(); err == nil {
		err = cerr
	}
	q.w = nil
	return err
}
