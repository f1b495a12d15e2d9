package collector_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	agentpush "github.com/bulwarkhq/bulwark/agent/push"
	"github.com/bulwarkhq/bulwark/internal/queue"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Issue 22 item 2, end to end with two real collectors: an agent's queue
// has one cursor per collector. Collector b is unreachable through twenty
// hours of probes (five minutes apart); collector a receives each batch as
// it is queued; once b is back it receives the whole backlog. Both then
// hold all 240 samples, each once (counted through their query API).
func TestDeliveryTwoCollectorsOneAway(t *testing.T) {
	colA, colB := startCollector(t), startCollector(t)
	var bDown atomic.Bool
	bDown.Store(true)
	target, _ := url.Parse("http://" + colB.Addr())
	proxy := httputil.NewSingleHostReverseProxy(target)
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bDown.Load() {
			// A host that is gone: the connection drops with no answer.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, r)
	})
	front := startHTTP(t, gate)

	reg := prometheus.NewRegistry()
	q, err := queue.Open(queue.Options{Dir: t.TempDir(), Cursors: []string{"a", "b"}, CursorLabel: "collector", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	m := agentpush.NewMetrics(reg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for name, base := range map[string]string{"a": "http://" + colA.Addr(), "b": front} {
		p, err := agentpush.New(agentpush.Options{URL: base + "/api/v1/write", Token: "home-token", Queue: q, Cursor: q.Cursor(name),
			Name: name, Metrics: m, BatchSize: 50, PollInterval: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond,
			MaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go p.Run(ctx)
	}

	const probes, every = 240, 5 * time.Minute
	end := time.Now()
	for i := probes; i > 0; i-- {
		ts := end.Add(-time.Duration(i) * every).UnixMilli()
		if err := q.Append([]wire.Series{{
			Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "sector", Value: "energy"}, {Name: "target", Value: "grid-portal"}},
			Samples: []wire.Sample{{Value: 1, Timestamp: ts}},
		}}); err != nil {
			t.Fatal(err)
		}
		if (i-1)%40 == 0 {
			// a has everything so far, on time, while b is away.
			waitUntil(t, func() bool { return q.Cursor("a").Pending() == 0 }, "collector a to receive each batch while b is away")
		}
	}
	if lag := q.Cursor("b").Pending(); lag != probes {
		t.Fatalf("b's lag %d while away, want %d", lag, probes)
	}
	if errs := counterWith(t, reg, "bulwark_agent_push_errors_total", "b"); errs == 0 {
		t.Error("b's failed pushes not counted")
	}
	window := (probes + 1) * every
	query := "/api/v1/query?query=" + url.QueryEscape(`count_over_time(probe_success{target="grid-portal"}[`+window.String()+`])`)
	if _, body := get(t, "http://"+colA.Addr()+query); !strings.Contains(body, `"240"`) {
		t.Fatalf("collector a holds %s, want 240 while b is away", body)
	}

	bDown.Store(false)
	waitUntil(t, func() bool { return q.Cursor("b").Pending() == 0 }, "collector b to receive its backlog")
	for name, app := range map[string]string{"a": colA.Addr(), "b": colB.Addr()} {
		if _, body := get(t, "http://"+app+query); !strings.Contains(body, `"240"`) {
			t.Errorf("collector %s holds %s, want all 240 samples, each once", name, body)
		}
	}
}

// startHTTP serves h on a loopback port and returns its base URL.
func startHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func waitUntil(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counterWith reads name{collector=collector}.
func counterWith(t *testing.T, reg *prometheus.Registry, name, collector string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "collector" && l.GetValue() == collector {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
