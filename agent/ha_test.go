package agent

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// haReceiver counts the samples of the remote-write requests it accepts,
// and the tokens it saw; while down it answers 503.
type haReceiver struct {
	mu      sync.Mutex
	down    bool
	samples int
	tokens  map[string]bool
}

func (h *haReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tokens == nil {
		h.tokens = map[string]bool{}
	}
	h.tokens[r.Header.Get("Authorization")] = true
	if h.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var req wire.WriteRequest
	if _, err := wire.DecodeBody(body, nil, 1<<24, wire.Limits{}, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.samples += req.Samples()
	w.WriteHeader(http.StatusNoContent)
}

func (h *haReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.samples
}

// Issue 22: an agent with collector.urls pushes every sample to each
// collector, each with its own token (or the shared one), through its own
// cursor: one collector down does not hold back the other, its lag and
// errors are exported by collector, and it gets the backlog once back.
func TestAgentPushesToEveryCollector(t *testing.T) {
	a1, b1 := &haReceiver{}, &haReceiver{down: true}
	sa, sb := httptest.NewServer(a1), httptest.NewServer(b1)
	defer sa.Close()
	defer sb.Close()
	dir := t.TempDir()
	tokB := filepath.Join(dir, "token-b")
	os.WriteFile(tokB, []byte("b-token\n"), 0o600)
	c := &agentconfig.Config{
		Collector: agentconfig.Collector{URLs: []agentconfig.Endpoint{{URL: sa.URL}, {URL: sb.URL, Name: "b", TokenFile: tokB}}},
		Queue:     agentconfig.Queue{Dir: filepath.Join(dir, "queue")},
	}
	reg := prometheus.NewRegistry()
	ag, err := New(Options{Config: c, Token: "shared", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	defer func() { cancel(); <-done }()
	series := func(from int) []wire.Series {
		out := make([]wire.Series, 10)
		for i := range out {
			out[i] = wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_success"}},
				Samples: []wire.Sample{{Value: 1, Timestamp: int64(from + i)}}}
		}
		return out
	}
	for i := range 3 {
		if err := ag.Queue().Append(series(i * 10)); err != nil {
			t.Fatal(err)
		}
		wait(t, func() bool { return a1.count() == (i+1)*10 }, "the healthy collector to receive each batch while the other is down")
	}
	nameA := agentconfig.EndpointName(sa.URL)
	wait(t, func() bool {
		return gaugeValue(t, reg, "bulwark_agent_queue_cursor_lag_samples", "b") == 30 &&
			gaugeValue(t, reg, "bulwark_agent_push_errors_total", "b") > 0
	}, "b's lag and errors exported")
	// The healthy collector's cursor commits just after its answer: its lag
	// comes back to 0 while b's stays at 30.
	wait(t, func() bool { return gaugeValue(t, reg, "bulwark_agent_queue_cursor_lag_samples", nameA) == 0 }, "the healthy collector's lag back to 0")
	b1.mu.Lock()
	b1.down = false
	b1.mu.Unlock()
	wait(t, func() bool { return b1.count() == 30 }, "the returning collector to receive the backlog")
	if !a1.tokens["Bearer shared"] || !b1.tokens["Bearer b-token"] || len(b1.tokens) != 1 {
		t.Errorf("tokens: a saw %v, b saw %v", a1.tokens, b1.tokens)
	}
}

// gaugeValue reads the value of name{collector=collector} as a scrape would.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name, collector string) float64 {
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
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

func wait(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
