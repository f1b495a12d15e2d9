// Package push delivers the disk queue's samples to a collector with the
// Prometheus remote-write protocol: batched, in order, retried with backoff
// while the collector is away. A batch leaves the queue only once the
// collector answered it; a retry after a lost answer is harmless because
// the collector stores a repeated sample once. With several collectors,
// one Pusher per collector reads through its own queue cursor, with its own
// backoff: one collector away never holds back the others.
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
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/internal/queue"
)

// Options configure a Pusher.
type Options struct {
	// URL is the remote-write endpoint, such as http://127.0.0.1:9400/api/v1/write.
	URL   string
	Token string
	// Queue holds what is to be delivered; required.
	Queue *queue.Queue
	// Cursor is the queue's cursor this Pusher reads through (default:
	// the queue's first).
	Cursor *queue.Cursor
	// Name labels this collector in the metrics and logs (collector="...").
	Name string
	// Metrics, shared by the Pushers of one agent (default: made with
	// NewMetrics(Registerer)).
	Metrics *Metrics
	// Client sends the requests (default: a client with a 30s timeout).
	Client *http.Client
	// BatchSize is about the most samples per request (default 2000): a
	// batch ends with the record that reaches it.
	BatchSize int
	// PollInterval is the longest a sample waits before it is sent when
	// there is less than a batch (default 1s).
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries (default 250ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	Registerer             prometheus.Registerer
}

// Pusher delivers the queue's batches in order.
type Pusher struct {
	opts    Options
	cursor  *queue.Cursor
	metrics *metrics
	// Reused by every batch (Run is the only sender).
	batch queue.Batch
	body  []byte
}

// Metrics are the pushers' metrics, labelled by collector.
type Metrics struct {
	pushed   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
}

// NewMetrics registers the pushers' metrics with r.
func NewMetrics(r prometheus.Registerer) *Metrics {
	f := promauto.With(r)
	return &Metrics{
		pushed: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "samples_pushed_total",
			Help: "Samples the collector accepted."}, []string{"collector"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "samples_rejected_total",
			Help: "Samples the collector refused with a 4xx (not retried)."}, []string{"collector"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "push_requests_total",
			Help: "Remote-write requests by HTTP status code (0: no answer)."}, []string{"collector", "code"}),
		errors: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "push_errors_total",
			Help: "Pushes that failed and will be retried (no answer, 5xx, 429, 401, or the queue could not be read or committed)."},
			[]string{"collector"}),
	}
}

// metrics are one Pusher's, curried with its collector.
type metrics struct {
	pushed   prometheus.Counter
	rejected prometheus.Counter
	requests *prometheus.CounterVec
	errors   prometheus.Counter
}

// New validates opts and returns a Pusher.
func New(opts Options) (*Pusher, error) {
	if opts.URL == "" || opts.Queue == nil {
		return nil, errors.New("push: URL and Queue are required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 2000
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
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
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(opts.Registerer)
	}
	cursor := opts.Cursor
	if cursor == nil {
		cursor = opts.Queue.Cursors()[0]
	} else if opts.Queue.Cursor(cursor.Name()) != cursor {
		return nil, fmt.Errorf("push: cursor %q is not the queue's", cursor.Name())
	}
	l := prometheus.Labels{"collector": opts.Name}
	m := &metrics{
		pushed:   opts.Metrics.pushed.With(l),
		rejected: opts.Metrics.rejected.With(l),
		requests: opts.Metrics.requests.MustCurryWith(l),
		errors:   opts.Metrics.errors.With(l),
	}
	return &Pusher{opts: opts, cursor: cursor, metrics: m}, nil
}

// Run delivers until ctx ends. What is not delivered stays in the queue
// for the next run.
func (p *Pusher) Run(ctx context.Context) error {
	tick := time.NewTicker(p.opts.PollInterval)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		for {
			sent, err := p.sendBatch(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				backoff = min(max(backoff*2, p.opts.MinBackoff), p.opts.MaxBackoff)
				var ra *retryAfter
				if errors.As(err, &ra) {
					backoff = max(backoff, ra.wait) // the collector said when
				}
				p.metrics.errors.Inc()
				p.opts.Logger.Warn("push failed, will retry", "collector", p.opts.Name, "url", redacted(p.opts.URL),
					"backoff", backoff, "pending", p.cursor.Pending(), "err", err)
				break
			}
			backoff = 0
			if !sent {
				break
			}
		}
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff + rand.N(backoff/4+1)):
			}
			continue
		}
		// Wait for the next tick, or for a full batch: a push (and the
		// queue's cursor sync after it) per probe would cost more than the probe.
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				break wait
			case <-p.cursor.NotEmpty():
				if p.cursor.Pending() >= p.opts.BatchSize {
					break wait
				}
			}
		}
	}
}

// requestBody tells when the transport is done with a request's body.
type requestBody struct {
	*bytes.Reader
	once   sync.Once
	closed chan struct{}
}

func (b *requestBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// wait returns once the body is closed (the transport always closes it,
// on success and on error alike) or ctx ends, and with it the pusher.
func (b *requestBody) wait(ctx context.Context) {
	select {
	case <-b.closed:
	case <-ctx.Done():
	}
}

// errRetry marks failures worth retrying.
var errRetry = errors.New("retryable")

// retryAfter is a retryable failure whose server said when to come back.
type retryAfter struct {
	wait time.Duration
	err  error
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

// refused is a batch the collector answered with a 4xx: written of its
// samples were stored (remote-write 2.0's samples-written header; none
// when the header is absent), the rest refused for good.
type refused struct {
	written int
	err     error
}

func (r *refused) Error() string { return r.err.Error() }

// headerSamplesWritten is the remote-write 2.0 response header with the
// samples the receiver stored.
const headerSamplesWritten = "X-Prometheus-Remote-Write-Samples-Written"

// sendBatch sends the oldest batch. It reports whether it sent anything.
func (p *Pusher) sendBatch(ctx context.Context) (bool, error) {
	b := &p.batch
	if err := p.cursor.ReadInto(b, p.opts.BatchSize); err != nil {
		return false, fmt.Errorf("%w: %w", errRetry, err)
	}
	if b.Samples == 0 {
		// Only expired or corrupt records were passed over: move on.
		return false, p.cursor.Commit(b)
	}
	p.body = snappy.Encode(p.body[:cap(p.body)], b.Proto)
	err := p.post(ctx, p.body)
	if err != nil && errors.Is(err, errRetry) {
		return false, err
	}
	var rf *refused
	if errors.As(err, &rf) {
		stored := min(rf.written, b.Samples)
		p.metrics.pushed.Add(float64(stored))
		p.metrics.rejected.Add(float64(b.Samples - stored))
		p.opts.Logger.Error("collector refused part of a batch; the rest is delivered", "collector", p.opts.Name, "samples", b.Samples,
			"stored", stored, "refused", b.Samples-stored, "err", err)
	} else {
		p.metrics.pushed.Add(float64(b.Samples))
	}
	if err := p.cursor.Commit(b); err != nil {
		return false, fmt.Errorf("%w: %w", errRetry, err)
	}
	return true, nil
}

func (p *Pusher) post(ctx context.Context, body []byte) error {
	// The transport may still read the body after Do returns; the body's
	// buffer is reused only once the transport has closed it.
	rb := &requestBody{Reader: bytes.NewReader(body), closed: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.opts.URL, rb)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	req.ContentLength = int64(len(body))
	defer rb.wait(ctx)
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
		err := fmt.Errorf("push: %w: HTTP %d: %s", errRetry, resp.StatusCode, bytes.TrimSpace(msg))
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			return &retryAfter{wait: min(time.Duration(secs)*time.Second, 10*time.Minute), err: err}
		}
		return err
	default:
		written, _ := strconv.Atoi(resp.Header.Get(headerSamplesWritten))
		return &refused{written: max(written, 0), err: fmt.Errorf("push: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))}
	}
}

// redacted is a URL with any password masked, for logs.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
