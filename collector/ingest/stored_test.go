package ingest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// SetStored is told, after the commit, the targets whose probe_success
// samples were stored, and only those: availability is re-tallied when
// results arrive (issue 20). A sample refused tells nothing.
func TestStoredTargets(t *testing.T) {
	o := tsdb.DefaultOptions()
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	agents := auth.NewAgents()
	agents.Add("home-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	now := time.Now()
	h, err := New(Options{Store: db, Agents: agents, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var told [][]string
	h.SetStored(func(targets []string) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, slices.Clone(targets))
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f := &fixture{db: db, srv: srv, now: now}
	ts := now.UnixMilli()
	if code, msg := f.post(t, "home-token", body(series("probe_success", "grid", ts, 0), series("probe_duration_seconds", "portal", ts, 0.1),
		series("probe_success", "portal", ts, 1))); code != http.StatusNoContent {
		t.Fatalf("code %d: %s", code, msg)
	}
	// The same samples again are duplicates, not new results.
	f.post(t, "home-token", body(series("probe_success", "grid", ts-int64(time.Hour/time.Millisecond), 0)))
	mu.Lock()
	defer mu.Unlock()
	if len(told) != 1 || !slices.Equal(told[0], []string{"grid", "portal"}) {
		t.Errorf("told %v, want [[grid portal]]", told)
	}
}
