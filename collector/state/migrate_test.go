package state

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/playbooks/drill"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

// seedAt writes one row of every table as a database at schema version v
// holds them, with raw SQL (the code of version v is gone).
func seedAt(t *testing.T, raw *sql.DB, dia *dialect, v int) {
	t.Helper()
	if v < 1 {
		return
	}
	j := func(x any) string { b, _ := json.Marshal(x); return string(b) }
	g := j(&depgraph.Service{Target: "water-utility", Sector: "energy", Score: 0.5})
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(dia.rebind(q), args...); err != nil {
			t.Fatalf("seed v%d: %s: %v", v, q, err)
		}
	}
	exec(`INSERT INTO graphs (key, target, graph, updated_ms) VALUES (?, ?, ?, ?)`, "water-utility", "water-utility", g, int64(1_790_000_000_000))
	exec(`INSERT INTO graph_history (key, target, graph, since_ms) VALUES (?, ?, ?, ?)`, "water-utility", "water-utility", g, int64(1_790_000_000_000))
	exec(`INSERT INTO drift (target, sector, layer, agent, vantage, before, after, from_state, to_state, first_seen_ms, evidence)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, "water-utility", "energy", "dns", "home-1", "home", "a", "b", "domestic", "foreign-critical", int64(1_790_000_060_000), "moved")
	exec(`INSERT INTO silences (id, body) VALUES (?, ?)`, "s1", j(&alerting.Silence{ID: "s1", Matchers: map[string]string{"target": "x"}}))
	exec(`INSERT INTO acks (body) VALUES (?)`, j(&alerting.Ack{GroupKey: "g", By: "otto"}))
	exec(`INSERT INTO drills (id, body) VALUES (?, ?)`, "d1", j(&drill.Drill{ID: "d1", Scenario: "cut XC"}))
	exec(`INSERT INTO playbook_runs (id, body) VALUES (?, ?)`, "r1", j(&runner.Run{ID: "r1", Playbook: "renew"}))
	e := audit.Entry{Seq: 1, At: time.UnixMilli(1_764_158_400_000).UTC(), User: "otto", Action: "silence", Detail: json.RawMessage(`{"id":"s1"}`)}
	if v < 2 {
		exec(`INSERT INTO audit (id, at_ms, "user", action, detail) VALUES (?, ?, ?, ?, ?)`, e.Seq, e.At.UnixMilli(), e.User, e.Action, string(e.Detail))
	} else {
		e.Chain("")
		exec(`INSERT INTO audit (id, at_ms, "user", action, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.At.UnixMilli(), e.User, e.Action, string(e.Detail), e.Prev, e.Hash)
	}
	if v < 3 {
		exec(`INSERT INTO notification_log (receiver, group_key, firing_hash, resolved_hash, sent_ms, since_ms, thread) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			"duty", "g", []byte{1}, []byte{2}, int64(1_764_158_400_000), int64(1_764_158_000_000), "ts1")
	} else {
		exec(`INSERT INTO notification_log (receiver, group_key, firing_hash, resolved_hash, sent_ms, since_ms, thread, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			"duty", "g", []byte{1}, []byte{2}, int64(1_764_158_400_000), int64(1_764_158_000_000), "ts1", `{"incident":"abc","version":2}`)
	}
	if v >= 4 {
		exec(`INSERT INTO targets (id, version, body) VALUES (?, ?, ?)`, "water-utility", int64(1), j(&target.Target{ID: "water-utility", Sector: "energy", URL: "https://water.test/"}))
		exec(`INSERT INTO targets_version (id, version) VALUES (1, 1)`)
	}
}

// checkSeeded reads back, through the current code, what seedAt wrote at
// version v, and writes to every table once more.
func checkSeeded(t *testing.T, db *DB, v int) {
	t.Helper()
	ctx := context.Background()
	if n, err := db.Version(ctx); err != nil || n != SchemaVersion() {
		t.Fatalf("version %d %v, want %d", n, err, SchemaVersion())
	}
	graphs, events, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	hist, herr := db.History(ctx, "water-utility")
	sils, serr := db.LoadSilences(ctx)
	acks, aerr := db.LoadAcks(ctx)
	drills, derr := db.LoadDrills(ctx)
	runs, rerr := db.LoadRuns(ctx)
	chain, cerr := db.AuditChain(ctx)
	nl, ok, nerr := db.Get(ctx, "duty", "g")
	tgts, tv, terr := db.TargetsSince(ctx, 0)
	if err := errors.Join(herr, serr, aerr, derr, rerr, cerr, nerr, terr); err != nil {
		t.Fatal(err)
	}
	want := 0
	if v >= 1 {
		want = 1
	}
	if len(graphs) != want || len(events) != want || len(hist) != want || len(sils) != want || len(acks) != want ||
		len(drills) != want || len(runs) != want || len(chain) != want || ok != (want == 1) {
		t.Fatalf("from v%d: %d graphs, %d drift, %d history, %d silences, %d acks, %d drills, %d runs, %d audit, nflog %v",
			v, len(graphs), len(events), len(hist), len(sils), len(acks), len(drills), len(runs), len(chain), ok)
	}
	if want == 1 {
		if graphs["water-utility"].Score != 0.5 || events[0].Evidence != "moved" || sils[0].ID != "s1" || acks[0].By != "otto" ||
			drills[0].Scenario != "cut XC" || runs[0].Playbook != "renew" || nl.Thread != "ts1" || nl.FiringHash[0] != 1 ||
			nl.Since.UnixMilli() != 1_764_158_000_000 {
			t.Fatalf("from v%d: rows changed: %+v %+v %+v", v, graphs["water-utility"], events[0], nl)
		}
		if wantTargets := map[bool]int{true: 1, false: 0}[v >= 4]; len(tgts) != wantTargets || tv != uint64(wantTargets) ||
			(wantTargets == 1 && tgts[0].URL != "https://water.test/") {
			t.Fatalf("from v%d: targets %+v at version %d", v, tgts, tv)
		}
		if wantInc := map[bool]string{true: "abc", false: ""}[v >= 3]; nl.Incident != wantInc {
			t.Fatalf("from v%d: incident %q, want %q", v, nl.Incident, wantInc)
		}
	}
	// Every table takes new rows after the upgrade (identities and
	// row ids follow on from the rows there).
	if err := errors.Join(
		db.Save(map[string]*depgraph.Service{"other": {Target: "other"}}, []depgraph.Drift{{Target: "other", FirstSeen: time.Now()}}, time.Now()),
		db.SaveSilence(ctx, &alerting.Silence{ID: "s2"}),
		db.SaveAck(ctx, &alerting.Ack{GroupKey: "g2"}),
		db.SaveDrill(ctx, &drill.Drill{ID: "d2"}),
		db.SaveRun(ctx, &runner.Run{ID: "r2"}),
		db.Put(ctx, "duty", "g2", alerting.LogEntry{SentAt: time.Now(), Incident: "def"}),
		db.Audit(ctx, "ada", "expire-silence", map[string]string{"id": "s1"}),
		saveTargets(ctx, db, tv, target.Target{ID: "other", Sector: "energy"}),
	); err != nil {
		t.Fatalf("from v%d: writing after the upgrade: %v", v, err)
	}
	verifyChain(t, db, want+1)
}

// verifyChain checks the audit chain as a signed export would be.
func verifyChain(t *testing.T, db *DB, n int) {
	t.Helper()
	chain, err := db.AuditChain(context.Background())
	if err != nil || len(chain) != n {
		t.Fatalf("audit chain: %v, %d entries, want %d", err, len(chain), n)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	if err := audit.Verify(audit.Sign(chain, key, time.Now()), nil); err != nil {
		t.Fatalf("audit chain does not verify: %v", err)
	}
}

// Issue 22: migrations apply from an empty database and from every
// earlier schema version, on every driver, the rows kept.
func TestMigrateFromEveryVersion(t *testing.T) {
	for v := 0; v < SchemaVersion(); v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			eachDriver(t, func(t *testing.T, o Options) {
				dia, _ := o.validate()
				old, err := open(context.Background(), o, dia, v)
				if err != nil {
					t.Fatal(err)
				}
				old.Close()
				raw, _ := rawDB(t, o)
				seedAt(t, raw, dia, v)
				raw.Close()
				checkSeeded(t, mustOpen(t, o), v)
			})
		})
	}
}

// A SQLite file from before the version table (each age of the schema
// the ad-hoc migrations knew, and main's own statements) upgrades in place.
func TestMigrateSQLiteBeforeVersionTable(t *testing.T) {
	ctx := context.Background()
	for v := 1; v <= 3; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			o := Options{Path: filepath.Join(t.TempDir(), "bulwark.db")}
			old, err := open(ctx, o, sqliteDialect, v)
			if err != nil {
				t.Fatal(err)
			}
			old.Close()
			raw, _ := rawDB(t, o)
			if _, err := raw.Exec(`DROP TABLE schema_migrations`); err != nil {
				t.Fatal(err)
			}
			seedAt(t, raw, sqliteDialect, v)
			raw.Close()
			checkSeeded(t, mustOpen(t, o), v)
		})
	}
	t.Run("main-b7bf08b", func(t *testing.T) {
		o := Options{Path: filepath.Join(t.TempDir(), "bulwark.db")}
		schema, err := os.ReadFile("testdata/sqlite-main-b7bf08b.sql")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := rawDB(t, o)
		if _, err := raw.Exec(string(schema)); err != nil {
			t.Fatal(err)
		}
		seedAt(t, raw, sqliteDialect, 3)
		raw.Close()
		checkSeeded(t, mustOpen(t, o), 3)
	})
}

// A database migrated by a newer binary is refused, not written.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	eachDriver(t, func(t *testing.T, o Options) {
		mustOpen(t, o).Close()
		raw, dia := rawDB(t, o)
		if _, err := raw.Exec(dia.rebind(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, 'future', 0)`), SchemaVersion()+1); err != nil {
			t.Fatal(err)
		}
		if _, err := New(context.Background(), o); !errors.Is(err, ErrSchemaNewer) {
			t.Fatalf("opening a newer schema: %v", err)
		}
	})
}

// Collectors starting together on one empty database migrate it once.
func TestMigrateConcurrentOpen(t *testing.T) {
	eachDriver(t, func(t *testing.T, o Options) {
		if o.Driver != Postgres {
			t.Skip("one process per SQLite file")
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				db, err := New(context.Background(), o)
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		raw, _ := rawDB(t, o)
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != SchemaVersion() {
			t.Fatalf("%d migrations recorded (%v), want %d", n, err, SchemaVersion())
		}
	})
}
