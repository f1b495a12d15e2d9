// Package influx writes every sample the collector accepts to an InfluxDB
// v2 write API as well (InfluxDB 2.x, 1.8+ with its v2 API, or any server
// that speaks it, such as VictoriaMetrics), for CERTs that already run
// InfluxDB. Samples go first into a bounded disk queue (the agent's, with
// its own metrics), so an InfluxDB outage or a collector restart loses
// nothing within the queue's bounds; a sender drains it in batches,
// retrying with backoff.
//
// The mapping is the one InfluxDB's own Prometheus remote-write endpoint
// uses: measurement = metric name, tags = labels, one float field "value",
// timestamp in milliseconds. So probe_success{target="e-id",vantage="home"}
// reads in Flux as
//
//	from(bucket: "bulwark") |> range(start: -1h)
//	  |> filter(fn: (r) => r._measurement == "probe_success" and r.target == "e-id")
//
// and in InfluxQL as SELECT "value" FROM "probe_success" WHERE "target" = 'e-id'.
package influx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/internal/queue"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Options configure a Sink.
type Options struct {
	URL, Org, Bucket, Token string
	// Dir holds the disk queue; MaxBytes bounds it (default 256 MiB) and
	// MaxAge drops what waited longer (default 24h).
	Dir      string
	MaxBytes int64
	MaxAge   time.Duration
	// BatchSize is the most points per write (default 5000).
	BatchSize int
	// MaxBackoff caps the wait between failed writes (default 30s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Sink queues samples and writes them to InfluxDB.
type Sink struct {
	opts    Options
	queue   *queue.Queue
	client  influxdb2.Client
	write   api.WriteAPIBlocking
	written prometheus.Counter
	errors  prometheus.Counter
}

// New opens the sink's queue; Run sends.
func New(opts Options) (*Sink, error) {
	if opts.URL == "" || opts.Bucket == "" || opts.Dir == "" {
		return nil, errors.New("influx: url, bucket and a queue directory are required")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	q, err := queue.Open(queue.Options{Dir: opts.Dir, MaxBytes: opts.MaxBytes, MaxAge: opts.MaxAge, Subsystem: "influx_queue", CommitDelay: -1,
		Logger: opts.Logger, Registerer: opts.Registerer})
	if err != nil {
		return nil, fmt.Errorf("influx: %w", err)
	}
	client := influxdb2.NewClientWithOptions(opts.URL, opts.Token,
		influxdb2.DefaultOptions().SetHTTPRequestTimeout(30).SetUseGZip(true).SetMaxRetries(0))
	f := promauto.With(opts.Registerer)
	return &Sink{opts: opts, queue: q, client: client, write: client.WriteAPIBlocking(opts.Org, opts.Bucket),
		written: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "influx", Name: "written_points_total",
			Help: "Points InfluxDB accepted."}),
		errors: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "influx", Name: "write_errors_total",
			Help: "Writes to InfluxDB that failed (retried with backoff; the points stay queued)."}),
	}, nil
}

// Append queues series durably (the collector has already stored them).
func (s *Sink) Append(series []wire.Series) error {
	if err := s.queue.Append(series); err != nil {
		return fmt.Errorf("influx: queue: %w", err)
	}
	return nil
}

// Pending is the number of samples waiting to be written.
func (s *Sink) Pending() int { return s.queue.Pending() }

// Run writes queued samples until ctx ends; what is not written by then
// stays on disk for the next start.
func (s *Sink) Run(ctx context.Context) {
	backoff := time.Duration(0)
	var b queue.Batch
	for {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		if err := s.queue.ReadInto(&b, s.opts.BatchSize); err != nil {
			s.opts.Logger.Error("influx: reading the queue", "err", err)
			backoff = s.next(backoff)
			continue
		}
		if b.Samples == 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.queue.NotEmpty():
			case <-time.After(time.Second):
			}
			continue
		}
		req, err := b.Decode()
		if err == nil {
			err = s.send(ctx, req)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.errors.Inc()
			backoff = s.next(backoff)
			s.opts.Logger.Warn("influx: write failed; the points stay queued", "pending", s.queue.Pending(), "retry_in", backoff, "err", err)
			continue
		}
		if err := s.queue.Commit(&b); err != nil {
			s.opts.Logger.Error("influx: committing the queue", "err", err)
		}
		backoff = 0
	}
}

func (s *Sink) next(d time.Duration) time.Duration {
	return min(max(2*d, 250*time.Millisecond), s.opts.MaxBackoff)
}

// send writes one batch as points.
func (s *Sink) send(ctx context.Context, req *wire.WriteRequest) error {
	points := make([]*write.Point, 0, req.Samples())
	for _, ser := range req.Series {
		name, tags := "", make(map[string]string, len(ser.Labels))
		for _, l := range ser.Labels {
			if l.Name == "__name__" {
				name = l.Value
			} else {
				tags[l.Name] = l.Value
			}
		}
		for _, smp := range ser.Samples {
			if math.IsNaN(smp.Value) || math.IsInf(smp.Value, 0) {
				continue // InfluxDB refuses them (staleness markers among them)
			}
			points = append(points, write.NewPoint(name, tags, map[string]any{"value": smp.Value}, time.UnixMilli(smp.Timestamp)))
		}
	}
	if len(points) == 0 {
		return nil
	}
	if err := s.write.WritePoint(ctx, points...); err != nil {
		return err
	}
	s.written.Add(float64(len(points)))
	return nil
}

// Close closes the queue and the client.
func (s *Sink) Close() error {
	s.client.Close()
	return s.queue.Close()
}
