package push

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bulwarkhq/bulwark/internal/queue"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// recorder is a remote-write receiver that fails the first `failures`
// requests with code and records the samples of the rest.
type recorder struct {
	mu       sync.Mutex
	failures int
	code     int
	got      []int64 // sample timestamps in arrival order
	tokens   []string
	at       []time.Time // arrival of each request
	// retryAfter is sent with failures; refuseFirst makes the first
	// successful answer a 400 that stored all but that many samples.
	retryAfter  string
	refuseFirst int
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tokens = append(rc.tokens, r.Header.Get("Authorization"))
	rc.at = append(rc.at, time.Now())
	if rc.failures > 0 {
		rc.failures--
		if rc.retryAfter != "" {
			w.Header().Set("Retry-After", rc.retryAfter)
		}
		http.Error(w, "not now", rc.code)
		return
	}
	var req wire.WriteRequest
	if _, err := wire.DecodeBody(body, nil, 1<<24, wire.Limits{}, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	n := 0
	for _, s := range req.Series {
		for _, smp := range s.Samples {
			rc.got = append(rc.got, smp.Timestamp)
			n++
		}
	}
	if rc.refuseFirst > 0 {
		w.Header().Set("X-Prometheus-Remote-Write-Samples-Written", strconv.Itoa(n-rc.refuseFirst))
		rc.refuseFirst = 0
		http.Error(w, "refused some", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *recorder) received() []int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]int64(nil), rc.got...)
}

func samples(from, n int) []wire.Series {
	out := make([]wire.Series, n)
	for i := range out {
		out[i] = wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_success"}},
			Samples: []wire.Sample{{Value: 1, Timestamp: int64(from + i)}}}
	}
	return out
}

func newPusher(t *testing.T, url string, o Options) (*Pusher, *queue.Queue) {
	t.Helper()
	q, err := queue.Open(queue.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	o.URL, o.Token, o.Queue = url, "tok", q
	o.MinBackoff, o.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	o.PollInterval = 10 * time.Millisecond
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p, q
}

func appendAll(t *testing.T, q *queue.Queue, ss []wire.Series) {
	t.Helper()
	for _, s := range ss {
		if err := q.Append([]wire.Series{s}); err != nil {
			t.Fatal(err)
		}
	}
}

// While the collector answers 503, samples wait; once it is back they
// arrive in order, each once.
func TestRetryUntilCollectorBack(t *testing.T) {
	rc := &recorder{failures: 5, code: http.StatusServiceUnavailable}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, q := newPusher(t, srv.URL, Options{BatchSize: 7})
	appendAll(t, q, samples(1, 50))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Wait until the pusher has seen the last answer, not only until the
	// server got the last batch: cancelling in between left the last push
	// uncounted (a race of the test, seen once in CI under -race).
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(p.metrics.pushed) < 50 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	got := rc.received()
	if len(got) != 50 {
		t.Fatalf("received %d samples, want 50", len(got))
	}
	for i, ts := range got {
		if ts != int64(i+1) {
			t.Fatalf("sample %d has timestamp %d: out of order or duplicated", i, ts)
		}
	}
	if rc.tokens[0] != "Bearer tok" {
		t.Fatalf("Authorization = %q", rc.tokens[0])
	}
	if v := testutil.ToFloat64(p.metrics.requests.WithLabelValues("503")); v != 5 {
		t.Errorf("503 requests counted %v, want 5", v)
	}
	if v := testutil.ToFloat64(p.metrics.pushed); v != 50 {
		t.Errorf("pushed = %v", v)
	}
}

// A collector that is not listening at all: the queue keeps the samples
// and the pusher delivers them once a server appears on that address.
func TestCollectorAway(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewUnstartedServer(rc)
	p, q := newPusher(t, "http://"+srv.Listener.Addr().String(), Options{})
	appendAll(t, q, samples(1, 10))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	time.Sleep(200 * time.Millisecond)
	if q.Pending() != 10 {
		t.Fatalf("pending %d while collector away, want 10", q.Pending())
	}
	srv.Start()
	defer srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.received()) < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := rc.received(); len(got) != 10 {
		t.Fatalf("received %d, want 10", len(got))
	}
}

// A 400 will not get better by retrying: the batch is dropped and counted.
func TestRejectedBatchDropped(t *testing.T) {
	rc := &recorder{failures: 1, code: http.StatusBadRequest}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, q := newPusher(t, srv.URL, Options{BatchSize: 5})
	appendAll(t, q, samples(1, 8))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go p.Run(ctx)
	for len(rc.received()) < 3 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if v := testutil.ToFloat64(p.metrics.rejected); v != 5 {
		t.Errorf("rejected = %v, want 5", v)
	}
	if got := rc.received(); len(got) != 3 || got[0] != 6 {
		t.Errorf("received %v, want samples 6..8", got)
	}
}

// A 400 that stored part of a batch counts only the refused samples as
// rejected (the collector's samples-written header); issue 8.
func TestPartlyRefusedBatch(t *testing.T) {
	rc := &recorder{refuseFirst: 1}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, q := newPusher(t, srv.URL, Options{BatchSize: 5})
	appendAll(t, q, samples(1, 5))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go p.Run(ctx)
	for q.Pending() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if r, d := testutil.ToFloat64(p.metrics.rejected), testutil.ToFloat64(p.metrics.pushed); r != 1 || d != 4 {
		t.Errorf("rejected = %v, pushed = %v; want 1 and 4", r, d)
	}
}

// A 429 with Retry-After waits that long before the retry.
func TestRetryAfterHonoured(t *testing.T) {
	rc := &recorder{failures: 1, code: http.StatusTooManyRequests, retryAfter: "1"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, q := newPusher(t, srv.URL, Options{})
	appendAll(t, q, samples(1, 3))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go p.Run(ctx)
	for len(rc.received()) < 3 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.at) < 2 {
		t.Fatalf("%d requests", len(rc.at))
	}
	if gap := rc.at[1].Sub(rc.at[0]); gap < time.Second {
		t.Fatalf("retried after %s, before the collector's Retry-After of 1s", gap)
	}
}
