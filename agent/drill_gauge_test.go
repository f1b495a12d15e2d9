package agent

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/internal/cutset"
)

// gaugeAgent is an agent whose registry the test reads; no collector
// answers it.
func gaugeAgent(t *testing.T, dir string) (*Agent, *prometheus.Registry) {
	t.Helper()
	c := agentconfig.Default()
	c.Collector.URL, c.Collector.AgentID, c.Queue.Dir = "http://127.0.0.1:1", "home-1", dir
	reg := prometheus.NewRegistry()
	a, err := New(Options{Config: &c, Token: "t", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.queue.Close() })
	return a, reg
}

// drillActive reads bulwark_agent_drill_active as a scrape would.
func drillActive(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "bulwark_agent_drill_active" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("bulwark_agent_drill_active is not exported")
	return 0
}

// Issue 19 item 13: with the collector gone, the agent stops the drill's
// probes at the cut's expiry by its own clock, and drill_active falls to
// 0 then too, not when the collector returns.
func TestDrillGaugeFollowsExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, reg := gaugeAgent(t, t.TempDir())
		now := time.Now()
		a.setDrill(&cutset.Cut{ID: "d1", Scenario: "cidr 192.0.2.0/24", Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
			Starts: now, Expires: now.Add(30 * time.Minute)})
		if got := drillActive(t, reg); got != 1 || a.Drill() == nil {
			t.Fatalf("under the drill: drill_active %v, cut %v", got, a.Drill())
		}
		time.Sleep(30*time.Minute - time.Second)
		if got := drillActive(t, reg); got != 1 {
			t.Fatalf("a second before the expiry: drill_active %v", got)
		}
		time.Sleep(time.Second)
		if got := drillActive(t, reg); got != 0 || a.Drill() != nil {
			t.Fatalf("at the expiry, no collector: drill_active %v, cut %v", got, a.Drill())
		}
		time.Sleep(9 * time.Minute)
		if got := drillActive(t, reg); got != 0 {
			t.Fatalf("9 minutes after the expiry: drill_active %v", got)
		}
	})
}

// TestDrillGaugeProperty drives an agent through random events (the
// collector hands out a cut, says there is none, time passes, the agent
// restarts from its disk) and checks after each that drill_active is 1
// exactly when the last cut handed out is in force by the agent's clock,
// and that the cut in force is that one.
func TestDrillGaugeProperty(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for run := range 20 {
		synctest.Test(t, func(t *testing.T) {
			dir := t.TempDir()
			a, reg := gaugeAgent(t, dir)
			var last *cutset.Cut // the model: the last cut handed out, nil after "none"
			for step := range 40 {
				var event string
				switch rng.IntN(5) {
				case 0, 1:
					now := time.Now()
					start := now.Add(time.Duration(rng.IntN(20)-10) * time.Minute)
					c := &cutset.Cut{ID: []string{"d1", "d2", "d3"}[rng.IntN(3)], Scenario: "cidr 192.0.2.0/24",
						Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
						Starts:   start, Expires: start.Add(time.Duration(1+rng.IntN(60)) * time.Minute)}
					if last != nil && last.ID == c.ID {
						c.Expires = last.Expires // setDrill keeps a cut it already has
						c.Starts = last.Starts
					}
					a.setDrill(c)
					last, event = c, "cut "+c.ID
				case 2:
					a.setDrill(nil)
					last, event = nil, "none"
				case 3:
					d := time.Duration(rng.IntN(40)) * time.Minute
					time.Sleep(d)
					event = "after " + d.String()
				case 4:
					a.queue.Close()
					a, reg = gaugeAgent(t, dir)
					a.loadDrill()
					if last != nil && !last.Expires.After(time.Now()) {
						last = nil // an expired cut is not taken up again
					}
					event = "restart"
				}
				want := 0.0
				if last.Active(time.Now()) {
					want = 1
				}
				got := drillActive(t, reg)
				d := a.Drill()
				if got != want || (want == 1) != (d != nil) || (d != nil && d.ID != last.ID) {
					t.Fatalf("run %d step %d (%s): drill_active %v, cut in force %v; want %v, %v", run, step, event, got, d, want, last)
				}
			}
		})
	}
}
