package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/agent/probe"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/cutset"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

func newTestAgent(t *testing.T, url, dir string) *Agent {
	t.Helper()
	c := agentconfig.Default()
	c.Collector.URL, c.Collector.AgentID, c.Queue.Dir = url, "home-1", dir
	a, err := New(Options{Config: &c, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.queue.Close() })
	return a
}

// TestDrillKeptAndExpired: the cut the collector hands out is kept on
// disk, taken up again by a restarted agent, ended by the agent's own
// clock at its expiry, and dropped when the collector says there is none.
func TestDrillKeptAndExpired(t *testing.T) {
	now := time.Now()
	cut := &cutset.Cut{ID: "d1", Scenario: "cidr 192.0.2.0/24", Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Starts: now.Add(-time.Second), Expires: now.Add(1500 * time.Millisecond)}
	answer := "cut"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/api/v1/agents/home-1/drill" || r.Header.Get("Authorization") != "Bearer t":
			http.Error(w, "no", http.StatusForbidden)
		case answer == "cut":
			json.NewEncoder(w).Encode(cut)
		case answer == "garbage":
			w.Write([]byte(`{"id": "d1", "prefixes": "all"}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	a := newTestAgent(t, srv.URL, dir)
	c, err := a.fetchDrill(t.Context(), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	a.setDrill(c)
	if a.Drill() == nil || a.Drill().ID != "d1" {
		t.Fatal("the fetched cut is not in force")
	}
	if _, err := os.Stat(filepath.Join(dir, drillFile)); err != nil {
		t.Fatalf("the cut is not kept on disk: %v", err)
	}
	// A garbled answer is an error, and the cut in force stays.
	answer = "garbage"
	if _, err := a.fetchDrill(t.Context(), 0, ""); err == nil || !strings.Contains(err.Error(), "drill: decode") {
		t.Errorf("garbled cut-set: %v", err)
	}
	// A restarted agent takes the kept cut up again without the collector.
	b := newTestAgent(t, "http://127.0.0.1:1", t.TempDir())
	os.WriteFile(filepath.Join(b.opts.Config.Queue.Dir, drillFile), mustRead(t, filepath.Join(dir, drillFile)), 0o600)
	b.loadDrill()
	if b.Drill() == nil {
		t.Fatal("a restarted agent forgot the drill")
	}
	// Its probes run twice while the cut is in force: as usual, and labelled with the drill.
	tg := &target.Target{ID: "x", Sector: "energy", Host: "192.0.2.7:443", Checks: []string{"tcp"}, Timeout: configfile.Duration(time.Second)}
	p, _ := probe.Prepare(tg)
	b.probeJob(t.Context(), tg, p, []string{"tcp"})
	got := mustDrain(t, b)
	drilled := 0
	for _, s := range got {
		for _, l := range s.Labels {
			if l.Name == "drill" && l.Value == "d1" {
				drilled++
			}
		}
	}
	if drilled == 0 || drilled == len(got) {
		t.Errorf("%d of %d series labelled with the drill: want some, not all", drilled, len(got))
	}
	time.Sleep(time.Until(cut.Expires))
	if a.Drill() != nil || b.Drill() != nil {
		t.Error("a cut is in force after its expiry")
	}
	// The collector says the drill is over: it is dropped and removed from disk.
	answer = "none"
	c, err = a.fetchDrill(t.Context(), 0, "")
	if err != nil || c != nil {
		t.Fatalf("no drill: %v %v", c, err)
	}
	a.setDrill(nil)
	if _, err := os.Stat(filepath.Join(dir, drillFile)); !os.IsNotExist(err) {
		t.Errorf("the ended drill is still on disk: %v", err)
	}
}

func mustRead(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDrain(t *testing.T, a *Agent) []wire.Series {
	t.Helper()
	b, err := a.queue.Read(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return r.Series
}

// BenchmarkDrillTakeUp measures how long after a drill starts every one
// of 20 agents enforces its cut (they long-poll for drills, as from the
// collector: the stub holds the poll as the collector does), against the
// same agents taking up a new target list, which they poll every second
// (the floor of pull_interval): the baseline. Reported: the worst agent
// of each start, its mean and its maximum.
func BenchmarkDrillTakeUp(b *testing.B) {
	const n = 20
	var cutJSON, list atomic.Pointer[[]byte]
	empty := []byte(`{"targets":[]}`)
	list.Store(&empty)
	var mu sync.Mutex
	changed := make(chan struct{})
	flip := func(j []byte) {
		cutJSON.Store(&j)
		mu.Lock()
		close(changed)
		changed = make(chan struct{})
		mu.Unlock()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/drill"):
			mu.Lock()
			ch := changed
			mu.Unlock()
			var cur cutset.Cut
			if c := cutJSON.Load(); c != nil {
				json.Unmarshal(*c, &cur)
			}
			if r.URL.Query().Get("wait") != "" && r.URL.Query().Get("known") == cur.ID {
				select {
				case <-ch:
				case <-time.After(15 * time.Second):
				case <-r.Context().Done():
				}
			}
			if c := cutJSON.Load(); c != nil {
				w.Write(*c)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case strings.HasSuffix(r.URL.Path, "/targets"):
			w.Write(*list.Load())
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	agents := make([]*Agent, n)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range agents {
		c := agentconfig.Default()
		c.Collector.URL, c.Collector.AgentID, c.Collector.PullTargets = srv.URL, fmt.Sprintf("a%d", i), true
		c.Collector.PullInterval = configfile.Duration(time.Second)
		c.Collector.ResolveInterval = 0
		c.Queue.Dir = b.TempDir()
		a, err := New(Options{Config: &c, Token: "t"})
		if err != nil {
			b.Fatal(err)
		}
		agents[i] = a
		wg.Go(func() { a.Run(ctx) })
	}
	takeUp := func(b *testing.B, flip func(i int), done func(a *Agent, i int) bool) {
		var worst []float64
		i := 0
		for b.Loop() {
			i++
			t0 := time.Now()
			flip(i)
			for {
				all := true
				for _, a := range agents {
					all = all && done(a, i)
				}
				if all {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			worst = append(worst, time.Since(t0).Seconds())
		}
		sum, peak := 0.0, 0.0
		for _, w := range worst {
			sum, peak = sum+w, max(peak, w)
		}
		b.ReportMetric(sum/float64(len(worst)), "s-worst-agent-mean")
		b.ReportMetric(peak, "s-worst-agent-max")
	}
	b.Run("drill", func(b *testing.B) {
		takeUp(b, func(i int) {
			now := time.Now()
			j, _ := json.Marshal(&cutset.Cut{ID: fmt.Sprintf("d%d", i), Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
				Starts: now, Expires: now.Add(time.Hour)})
			flip(j)
		}, func(a *Agent, i int) bool { c := a.Drill(); return c != nil && c.ID == fmt.Sprintf("d%d", i) })
	})
	b.Run("targets-baseline", func(b *testing.B) {
		takeUp(b, func(i int) {
			j := []byte(fmt.Sprintf(`{"targets":[{"id":"t%d","sector":"energy","url":"http://192.0.2.1/","schedule":"@every 1h"}]}`, i))
			list.Store(&j)
		}, func(a *Agent, i int) bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			return len(a.pulled) == 1 && a.pulled[0].ID == fmt.Sprintf("t%d", i)
		})
	})
}
