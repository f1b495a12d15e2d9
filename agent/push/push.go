// Package push delivers samples to the collector with the Prometheus
// remote-write protocol: batched, in order, retried with backoff while the
// collector is away, bounded in memory (oldest dropped first and counted).
package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Options configure a Pusher.
type Options struct {
	// URL is the remote-write endpoint, such as http://127.0.0.1:9400/api/v1/write.
	URL   string
	Token string
	// Client sends the requests (default: a client with a 30s timeout).
	Client *http.Client
	// BatchSize is the most series per request (default 2000).
	BatchSize int
	// MaxSamples bounds the buffer; the oldest samples go first (default 1,000,000).
	MaxSamples int
	// FlushInterval is how long samples may wait to fill a batch (default 1s).
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries (default 250ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	Registerer             prometheus.Registerer
}

// Pusher buffers series and sends them.
type Pusher struct {
	opts    Options
	metrics *metrics

	mu      sync.Mutex
	buf     []wire.Series
	samples int
	wake    chan struct{}
}

type metrics struct {
	pushed   prometheus.Counter
	dropped  *prometheus.CounterVec
	requests *prometheus.CounterVec
	buffered prometheus.Gauge
}

// New validates opts and returns a Pusher.
func New(opts Options) (*Pusher, error) {
	if opts.URL == "" {
		return nil, errors.New("push: URL is required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 2000
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 1_000_000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
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
	f := promauto.With(opts.Registerer)
	m := &metrics{
		pushed: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "samples_pushed_total",
			Help: "Samples the collector accepted."}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "samples_dropped_total",
			Help: "Samples given up on, by reason (buffer_full, rejected)."}, []string{"reason"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "push_requests_total",
			Help: "Remote-write requests by HTTP status code (0: no answer)."}, []string{"code"}),
		buffered: f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "agent", Name: "buffered_samples",
			Help: "Samples waiting to be delivered."}),
	}
	return &Pusher{opts: opts, metrics: m, wake: make(chan struct{}, 1)}, nil
}

// Add buffers series for delivery. When the buffer is full the oldest
// series are dropped and counted.
func (p *Pusher) Add(series ...wire.Series) {
	p.mu.Lock()
	p.buf = append(p.buf, series...)
	for _, s := range series {
		p.samples += len(s.Samples)
	}
	dropped := 0
	for p.samples > p.opts.MaxSamples && len(p.buf) > 0 {
		n := len(p.buf[0].Samples)
		p.samples -= n
		dropped += n
		p.buf[0] = wire.Series{}
		p.buf = p.buf[1:]
	}
	full := len(p.buf) >= p.opts.BatchSize
	p.metrics.buffered.Set(float64(p.samples))
	p.mu.Unlock()
	if dropped > 0 {
		p.metrics.dropped.WithLabelValues("buffer_full").Add(float64(dropped))
	}
	if full {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// Buffered returns the number of samples waiting.
func (p *Pusher) Buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.samples
}

// Run delivers until ctx ends, then tries once more to flush what is left
// within flushTimeout.
func (p *Pusher) Run(ctx context.Context, flushTimeout time.Duration) error {
	tick := time.NewTicker(p.opts.FlushInterval)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return p.flush(flushTimeout)
			case <-time.After(backoff + rand.N(backoff/4+1)):
			}
		} else {
			select {
			case <-ctx.Done():
				return p.flush(flushTimeout)
			case <-tick.C:
			case <-p.wake:
			}
		}
		backoff = 0
		for {
			sent, err := p.sendBatch(ctx)
			if err != nil {
				backoff = min(max(backoff*2, p.opts.MinBackoff), p.opts.MaxBackoff)
				p.opts.Logger.Warn("push failed, will retry", "url", p.opts.URL, "backoff", backoff, "err", err)
				break
			}
			if !sent {
				break
			}
		}
	}
}

func (p *Pusher) flush(timeout time.Duration) error {
	if timeout <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		sent, err := p.sendBatch(ctx)
		if err != nil {
			left := p.Buffered()
			return fmt.Errorf("push: final flush left %d samples: %w", left, err)
		}
		if !sent {
			return nil
		}
	}
}

// errRetry marks failures worth retrying.
var errRetry = errors.New("retryable")

// sendBatch sends the oldest batch. It reports whether it sent anything.
func (p *Pusher) sendBatch(ctx context.Context) (bool, error) {
	p.mu.Lock()
	n := min(len(p.buf), p.opts.BatchSize)
	batch := append([]wire.Series(nil), p.buf[:n]...)
	p.mu.Unlock()
	if n == 0 {
		return false, nil
	}
	body := wire.Compress(nil, &wire.WriteRequest{Series: batch})
	err := p.post(ctx, body)
	if err != nil && errors.Is(err, errRetry) {
		return false, err
	}
	samples := 0
	for _, s := range batch {
		samples += len(s.Samples)
	}
	p.mu.Lock()
	clear(p.buf[:n])
	p.buf = p.buf[n:]
	p.samples -= samples
	p.metrics.buffered.Set(float64(p.samples))
	p.mu.Unlock()
	if err != nil {
		p.metrics.dropped.WithLabelValues("rejected").Add(float64(samples))
		p.opts.Logger.Error("collector rejected a batch; dropped it", "samples", samples, "err", err)
		return true, nil
	}
	p.metrics.pushed.Add(float64(samples))
	return true, nil
}

func (p *Pusher) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.opts.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "Bulwark-Agent/1")
	if p.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.opts.Token)
	}
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		p.metrics.requests.WithLabelValues("0").Inc()
		return fmt.Errorf("push: %w: %w", errRetry, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	p.metrics.requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusUnauthorized:
		// A 401 is retried: the operator may be rotating the token.
		return fmt.Errorf("push: %w: HTTP %d: %s", errRetry, resp.StatusCode, bytes.TrimSpace(msg))
	default:
		return fmt.Errorf("push: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
}
