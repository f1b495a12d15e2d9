package agent

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/agent/config"
	"github.com/bulwarkhq/bulwark/agent/probe"
	"github.com/bulwarkhq/bulwark/internal/drill"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

func newTestAgent(t *testing.T, url, dir string) *Agent {
	t.Helper()
	c := config.Default
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
	cut := &drill.Cut{ID: "d1", Scenario: "cidr 192.0.2.0/24", Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
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
	c, err := a.fetchDrill(t.Context())
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
	if _, err := a.fetchDrill(t.Context()); err == nil || !strings.Contains(err.Error(), "drill: decode") {
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
	tg := &target.Target{ID: "x", Sector: "energy", Host: "192.0.2.7:443", Checks: []string{"tcp"}, Timeout: target.Duration(time.Second)}
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
	c, err = a.fetchDrill(t.Context())
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
