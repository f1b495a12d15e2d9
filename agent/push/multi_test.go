package push

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bulwarkhq/bulwark/internal/queue"
)

// Two collectors on one queue, one cursor each: while b answers 503, a
// receives every sample as it comes; b's errors and lag are counted per
// collector; once b is back it receives the backlog, in order.
func TestTwoCollectorsOneAway(t *testing.T) {
	a, b := &recorder{}, &recorder{failures: 1 << 30, code: http.StatusServiceUnavailable}
	sa, sb := httptest.NewServer(a), httptest.NewServer(b)
	defer sa.Close()
	defer sb.Close()
	reg := prometheus.NewRegistry()
	q, err := queue.Open(queue.Options{Dir: t.TempDir(), Cursors: []string{"a", "b"}, CursorLabel: "collector", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := NewMetrics(reg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, url := range map[string]string{"a": sa.URL, "b": sb.URL} {
		p, err := New(Options{URL: url, Queue: q, Cursor: q.Cursor(name), Name: name, Metrics: m, PollInterval: 10 * time.Millisecond,
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go p.Run(ctx)
	}
	for i := range 5 {
		appendAll(t, q, samples(i*10+1, 10))
		waitFor(t, func() bool { return len(a.received()) == (i+1)*10 }, "a to receive every sample while b is away")
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("b")); got == 0 {
		t.Error("b's failed pushes not counted")
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("a")); got != 0 {
		t.Errorf("a counted %v failed pushes", got)
	}
	if lag, err := testutil.GatherAndCount(reg, "bulwark_agent_queue_cursor_lag_samples"); err != nil || lag != 2 {
		t.Fatalf("cursor lag series: %d, %v", lag, err)
	}
	if got := q.Cursor("b").Pending(); got != 50 {
		t.Errorf("b's lag %d, want 50", got)
	}
	b.mu.Lock()
	b.failures = 0
	b.mu.Unlock()
	waitFor(t, func() bool { return len(b.received()) == 50 }, "b to receive the backlog")
	for i, ts := range b.received() {
		if ts != int64(i+1) {
			t.Fatalf("b: sample %d is %d: out of order or repeated", i, ts)
		}
	}
	if got := testutil.ToFloat64(m.pushed.WithLabelValues("b")); got != 50 {
		t.Errorf("pushed{collector=b} = %v", got)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
