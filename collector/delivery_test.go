package collector_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	agentpush "github.com/bulwarkhq/bulwark/agent/push"
	"github.com/bulwarkhq/bulwark/internal/queue"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// An agent whose collector was away for an hour delivers the whole hour
// from its disk queue once the collector is back, and a batch delivered
// twice (a crash between the collector's answer and the queue's commit)
// is stored once.
func TestCollectorAwayForAnHour(t *testing.T) { collectorAway(t, 15*time.Second) }

// Issue 8: the agent keeps 24 h of queue but the collector refused samples
// older than its 6 h out-of-order window, so an outage between 6 and 24 h
// lost data. With the defaults agreeing, 20 hours away lose nothing.
func TestCollectorAwayForTwentyHours(t *testing.T) { collectorAway(t, 5*time.Minute) }

// collectorAway queues 240 probes, every apart, while the collector is
// away, then delivers them to it.
func collectorAway(t *testing.T, every time.Duration) {
	q, err := queue.Open(queue.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	end := time.Now()
	const probes = 240
	for i := probes; i > 0; i-- {
		ts := end.Add(-time.Duration(i) * every).UnixMilli()
		if err := q.Append([]wire.Series{{
			Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "sector", Value: "energy"}, {Name: "target", Value: "grid-portal"}},
			Samples: []wire.Sample{{Value: 1, Timestamp: ts}},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	// The collector comes back, already holding a newer sample of the
	// series from before (so the hour arrives out of order).
	app := startCollector(t)
	base := "http://" + app.Addr()
	push(t, base+"/api/v1/write", "home-token", &wire.WriteRequest{Series: []wire.Series{{
		Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "sector", Value: "energy"}, {Name: "target", Value: "grid-portal"}},
		Samples: []wire.Sample{{Value: 1, Timestamp: end.UnixMilli()}},
	}}})

	// A crash after delivery, before commit: the first batch goes twice.
	first, _ := q.Read(50)
	firstReq, err := first.Decode()
	if err != nil {
		t.Fatal(err)
	}
	push(t, base+"/api/v1/write", "home-token", firstReq)

	p, err := agentpush.New(agentpush.Options{URL: base + "/api/v1/write", Token: "home-token", Queue: q, BatchSize: 50,
		PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for q.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := q.Read(1)
	cancel()
	<-done
	if b.Samples != 0 {
		t.Fatal("queue not drained within 20s")
	}
	window := (probes + 1) * every
	q1 := url.QueryEscape(`count_over_time(probe_success{target="grid-portal"}[` + window.String() + `])`)
	_, body := get(t, base+"/api/v1/query?query="+q1)
	if !strings.Contains(body, `"241"`) {
		t.Fatalf("stored samples: %s, want 241 (the %s away plus the newer one, none twice)", body, probes*every)
	}
}

// Issue 8, end to end: one bad series in an agent's batch no longer sinks
// the other samples. The real pusher delivers a batch with one invalid
// series to the real collector: the others are stored, and the agent counts
// one sample refused and the rest delivered.
func TestOneBadSeriesDeliversTheOthers(t *testing.T) {
	q, err := queue.Open(queue.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	now := time.Now().UnixMilli()
	var batch []wire.Series
	for i := range 10 {
		ls := []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "sector", Value: "energy"},
			{Name: "target", Value: fmt.Sprintf("svc-%d", i)}}
		if i == 4 {
			ls = append(ls, wire.Label{Name: "weird-label", Value: "x"}) // not a valid label name
		}
		batch = append(batch, wire.Series{Labels: ls, Samples: []wire.Sample{{Value: 1, Timestamp: now}}})
	}
	if err := q.Append(batch); err != nil {
		t.Fatal(err)
	}
	app := startCollector(t)
	base := "http://" + app.Addr()
	reg := prometheus.NewRegistry()
	p, err := agentpush.New(agentpush.Options{URL: base + "/api/v1/write", Token: "home-token", Queue: q, PollInterval: 10 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for q.Pending() > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-done
	_, body := get(t, base+"/api/v1/query?query="+url.QueryEscape(`count(probe_success{check="http"})`))
	if !strings.Contains(body, `"9"`) {
		t.Fatalf("stored: %s, want the 9 valid series", body)
	}
	pushed, rejected := counter(t, reg, "bulwark_agent_samples_pushed_total"), counter(t, reg, "bulwark_agent_samples_rejected_total")
	if pushed != 9 || rejected != 1 {
		t.Fatalf("agent counts %v pushed, %v rejected; want 9 and 1", pushed, rejected)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
