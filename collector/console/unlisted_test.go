package console

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Issue 19 (extra): an agent's sample for a target the collector does not
// list showed as a "down" service and counted in the sector's Down. It is
// "unlisted" now, shown apart and never counted as down; a listed target
// that is down still is.
func TestUnlistedTargetNotDown(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	app := db.Appender(context.Background())
	for _, tgt := range []string{"grid-portal", "forged-portal"} {
		ls := labels.FromStrings("__name__", "probe_success", "agent", "home-1", "vantage", "home",
			"check", "http", "sector", "energy", "target", tgt)
		if _, err := app.Append(0, ls, now.Add(-10*time.Second).UnixMilli(), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 100000, Timeout: 10 * time.Second}),
		Queryable: db, Now: func() time.Time { return now },
		Targets: func() []target.Target { return []target.Target{{ID: "grid-portal", Sector: "energy"}} }})
	if err != nil {
		t.Fatal(err)
	}
	sectors, err := c.Overview(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	down := 0
	for _, s := range sectors {
		down += s.Down
		for _, svc := range s.Services {
			states[svc.Target] = svc.State
		}
	}
	if states["grid-portal"] != "down-everywhere" || states["forged-portal"] != "unlisted" || down != 1 {
		t.Fatalf("states %v, down %d: want grid-portal down-everywhere (the API's class), forged-portal unlisted, 1 down", states, down)
	}
}
