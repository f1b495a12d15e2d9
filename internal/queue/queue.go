// Package queue is the agent's durable queue: every batch of samples is
// written and synced to disk before Append returns, and delivered in order
// from persisted read cursors, one per reader (one per collector in the
// agent). It is bounded by bytes and by age; when full, the oldest
// segments go first and their samples are counted for each cursor that had
// not yet delivered them. A segment is removed once every cursor has
// passed it.
//
// On disk: numbered segment files of records
//
//	[length u32][crc32c u32][created unix ms i64][samples u32][snappy(protobuf WriteRequest)]
//
// and a cursor file per reader ("cursor" for the unnamed one, "cursor-NAME"
// for a named one) naming the next record to deliver. A torn record at the
// end of the last segment (a crash mid-write) is cut off at open.
package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

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
	// Cursors names the readers, each with its own persisted position
	// (default: one unnamed cursor). A cursor file of a name not listed is
	// removed at open; a listed name without a file starts where the
	// unnamed cursor was, if its file is there (an upgrade from one
	// reader), else at the oldest record still on disk.
	Cursors []string
	// CursorLabel is the label naming the cursor in the per-cursor
	// metrics (default "cursor").
	CursorLabel string
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// Subsystem names its metrics, bulwark_<subsystem>_* (default
	// agent_queue; the collector's InfluxDB sink has its own).
	Subsystem string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Queue is a durable FIFO of sample batches.
type Queue struct {
	opts    Options
	metrics *metrics

	mu      sync.Mutex
	segs    []*segment // oldest first; the last is being written
	w       *os.File
	cursors []*Cursor // in the order of Options.Cursors

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
	// dropped counts a sample once for each cursor that lost it (and
	// write errors once).
	dropped       *prometheus.CounterVec
	cursorDropped *prometheus.CounterVec
	bytes         prometheus.Gauge
	appended      prometheus.Counter
}

// maxCursorName bounds a cursor's name so that its file name, escaped,
// stays within 255 bytes.
const maxCursorName = 80

// Open opens or creates the queue in opts.Dir and recovers from a crash.
func Open(opts Options) (*Queue, error) {
	if opts.Dir == "" {
		return nil, errors.New("queue: Dir is required")
	}
	if len(opts.Cursors) == 0 {
		opts.Cursors = []string{""}
	}
	seen := map[string]bool{}
	for _, name := range opts.Cursors {
		switch {
		case name == "" && len(opts.Cursors) > 1:
			return nil, errors.New("queue: with several cursors, each needs a name")
		case len(name) > maxCursorName:
			return nil, fmt.Errorf("queue: cursor name %q is longer than %d bytes", name, maxCursorName)
		case seen[name]:
			return nil, fmt.Errorf("queue: cursor %q named twice", name)
		}
		seen[name] = true
	}
	if opts.CursorLabel == "" {
		opts.CursorLabel = "cursor"
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
	q := &Queue{opts: opts, kick: make(chan struct{}, 1), flushed: make(chan struct{}),
		next: &group{done: make(chan struct{})}, metrics: &metrics{
			dropped: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: sub, Name: "dropped_samples_total",
				Help: "Samples dropped from the disk queue, by reason (full, expired, corrupt, write_error); a sample lost for two cursors counts twice."}, []string{"reason"}),
			cursorDropped: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: sub, Name: "cursor_dropped_samples_total",
				Help: "Samples a cursor will never deliver, by reason (full, expired, corrupt)."}, []string{opts.CursorLabel, "reason"}),
			bytes: f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: sub, Name: "bytes",
				Help: "Bytes in the disk queue's segments."}),
			appended: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: sub, Name: "appended_samples_total",
				Help: "Samples written durably to the disk queue."}),
		}}
	for _, name := range opts.Cursors {
		q.cursors = append(q.cursors, &Cursor{q: q, name: name, notEmpty: make(chan struct{}, 1)})
	}
	if err := q.recover(); err != nil {
		q.closeCursors()
		return nil, err
	}
	go q.flusher()
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: sub, Name: "pending_samples",
		Help: "Samples on disk waiting for delivery by the cursor furthest behind."}, func() float64 { return float64(q.Pending()) })
	for _, c := range q.cursors {
		labels := prometheus.Labels{opts.CursorLabel: c.name}
		f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: sub, Name: "cursor_lag_samples", ConstLabels: labels,
			Help: "Samples appended and not yet delivered through this cursor."}, func() float64 { return float64(c.Pending()) })
		f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: sub, Name: "cursor_lag_bytes", ConstLabels: labels,
			Help: "Bytes of segments from this cursor on: when it nears the queue's max bytes, the cursor starts losing its oldest samples."},
			func() float64 { return float64(c.LagBytes()) })
		for _, reason := range []string{"full", "expired", "corrupt"} {
			q.metrics.cursorDropped.WithLabelValues(c.name, reason) // present at 0
		}
	}
	return q, nil
}

// Cursor returns the cursor of that name, or nil.
func (q *Queue) Cursor(name string) *Cursor {
	for _, c := range q.cursors {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Cursors returns the queue's cursors in the order of Options.Cursors.
func (q *Queue) Cursors() []*Cursor { return append([]*Cursor(nil), q.cursors...) }

// NotEmpty is signalled after each Append (for the first cursor).
func (q *Queue) NotEmpty() <-chan struct{} { return q.cursors[0].notEmpty }

// Read is the first cursor's Read.
func (q *Queue) Read(maxSamples int) (*Batch, error) { return q.cursors[0].Read(maxSamples) }

// ReadInto is the first cursor's ReadInto.
func (q *Queue) ReadInto(b *Batch, maxSamples int) error { return q.cursors[0].ReadInto(b, maxSamples) }

// Commit is the first cursor's Commit.
func (q *Queue) Commit(b *Batch) error { return q.cursors[0].Commit(b) }

// Pending reports the samples waiting for delivery by the cursor furthest
// behind.
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.cursors {
		n = max(n, c.pending)
	}
	return n
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
	q.closeCursors()
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

func (q *Queue) closeCursors() {
	for _, c := range q.cursors {
		if c.f != nil {
			c.f.Close()
			c.f = nil
		}
	}
}
