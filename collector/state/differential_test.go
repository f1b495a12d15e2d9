package state

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/playbooks/drill"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

// Issue 22: the two drivers are one store. A random sequence of the
// collector's writes and restarts goes to a SQLite and a PostgreSQL
// database alike; after every step, everything either reads back is the
// same, and the audit chain verifies on both.
func TestDriversAgree(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 22))
	ctx := context.Background()
	var opts []Options
	for _, d := range drivers() {
		opts = append(opts, d.fresh(t))
	}
	dbs := make([]*DB, len(opts))
	for i, o := range opts {
		dbs[i] = mustOpen(t, o)
	}
	t0 := time.UnixMilli(1_790_000_000_000).UTC()
	audits := 0
	for step := range 120 {
		at := t0.Add(time.Duration(step) * time.Minute)
		key := fmt.Sprint("k", rng.IntN(5))
		op := rng.IntN(10)
		var acks []*alerting.Ack
		if op == 3 {
			for i := range rng.IntN(3) {
				acks = append(acks, &alerting.Ack{GroupKey: fmt.Sprint("g", i), By: "otto", At: at})
			}
		}
		gcBefore := at.Add(-time.Duration(rng.IntN(60)) * time.Minute)
		for i, db := range dbs {
			var err error
			switch op {
			case 0:
				err = db.SaveSilence(ctx, &alerting.Silence{ID: key, Matchers: map[string]string{"target": key}, StartsAt: at, EndsAt: at.Add(time.Hour), By: "otto"})
			case 1:
				err = db.DeleteSilence(ctx, key)
			case 2:
				err = db.SaveAck(ctx, &alerting.Ack{GroupKey: key, By: "otto", At: at, Removed: step%2 == 0})
			case 3:
				err = db.CompactAcks(ctx, acks)
			case 4:
				err = db.Put(ctx, "duty", key, alerting.LogEntry{FiringHash: [32]byte{byte(step)}, SentAt: at, Since: at.Add(-time.Hour),
					Thread: fmt.Sprint("ts", step), Incident: key, Version: uint64(step), Starts: map[uint64]time.Time{uint64(step) << 40: at}})
			case 5:
				_, err = db.GC(ctx, gcBefore, func(_, k string) bool { return k == "k0" })
			case 6:
				err = db.SaveRun(ctx, &runner.Run{ID: key, Playbook: "renew", State: runner.Waiting, Started: at})
			case 7:
				err = db.SaveDrill(ctx, &drill.Drill{ID: key, Scenario: fmt.Sprint("s", step), Started: at})
			case 8:
				err = db.Audit(ctx, "otto", "step", map[string]any{"step": step, "key": key})
			case 9:
				g := &depgraph.Service{Target: key, Score: float64(step)}
				err = db.Save(map[string]*depgraph.Service{key: g}, []depgraph.Drift{{Target: key, Evidence: fmt.Sprint(step), FirstSeen: at}}, at)
			}
			if err != nil {
				t.Fatalf("seed %d step %d op %d on %s: %v", seed, step, op, db.Driver(), err)
			}
			if rng.IntN(15) == 0 && i == len(dbs)-1 { // a restart of both
				for j := range dbs {
					dbs[j].Close()
					dbs[j] = mustOpen(t, opts[j])
				}
			}
		}
		if op == 8 {
			audits++
		}
		a, b := snapshot(t, dbs[0]), snapshot(t, dbs[1])
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d step %d op %d: the drivers differ\nsqlite:   %s\npostgres: %s", seed, step, op, a, b)
		}
	}
	for _, db := range dbs {
		verifyChain(t, db, audits)
	}
}

// snapshot is everything a database reads back, as JSON (audit times
// left out: each append takes its own clock).
func snapshot(t *testing.T, db *DB) string {
	t.Helper()
	ctx := context.Background()
	graphs, drift, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := map[string]any{"graphs": graphs, "drift": drift}
	sils, err := db.LoadSilences(ctx)
	s["silences"] = sils
	if err == nil {
		s["acks"], err = db.LoadAcks(ctx)
	}
	var runs []*runner.Run
	var drills []*drill.Drill
	if err == nil {
		runs, err = db.LoadRuns(ctx)
		slices.SortFunc(runs, func(a, b *runner.Run) int { return cmp.Compare(a.ID, b.ID) })
		s["runs"] = runs
	}
	if err == nil {
		drills, err = db.LoadDrills(ctx)
		slices.SortFunc(drills, func(a, b *drill.Drill) int { return cmp.Compare(a.ID, b.ID) })
		s["drills"] = drills
	}
	for i := range 5 {
		k := fmt.Sprint("k", i)
		if err == nil {
			var e alerting.LogEntry
			var ok bool
			e, ok, err = db.Get(ctx, "duty", k)
			s["nflog-"+k] = []any{ok, e}
		}
		if err == nil {
			s["history-"+k], err = db.History(ctx, k)
		}
	}
	if err == nil {
		var chain []AuditEntry
		chain, err = db.AuditChain(ctx)
		var rows [][]any
		for _, e := range chain {
			rows = append(rows, []any{e.Seq, e.User, e.Action, e.Detail})
		}
		s["audit"] = rows
	}
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	return string(b)
}
