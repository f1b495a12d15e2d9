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

// NotEmpty is signalled after each Append.
func (q *Queue) NotEmpty() <-chan struct{} { return q.notEmpty }

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
