package inventory

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
)

// pg is the PostgreSQL 15 the tests share (a database each).
var pg postgres.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

// eachDriver runs f with a fresh state database of each driver, and a
// function opening it once more (a second collector on it).
func eachDriver(t *testing.T, f func(t *testing.T, open func() *state.DB)) {
	for _, name := range []string{state.SQLite, state.Postgres} {
		t.Run(name, func(t *testing.T) {
			o := state.Options{Driver: state.SQLite, Path: filepath.Join(t.TempDir(), "bulwark.db")}
			if name == state.Postgres {
				o = state.Options{Driver: state.Postgres, DSN: pg.Database(t)}
			}
			f(t, func() *state.DB {
				db, err := state.New(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			})
		})
	}
}

func dotgov(t *testing.T) []target.Target {
	t.Helper()
	b, err := os.ReadFile("testdata/current-full.csv")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := ParseCSV("current-full.csv", b, Presets()["dotgov"])
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// Issue 22: an installation that kept its targets in targets.json
// upgrades in place: the file's targets are imported into the state
// database at the first start, every field intact, the file renamed and
// not read again, and the upgrade said in the log.
func TestUpgradeFromTargetsFile(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() *state.DB) {
		ctx := context.Background()
		legacy := filepath.Join(t.TempDir(), "state", "targets.json")
		old, err := Open(legacy)
		if err != nil {
			t.Fatal(err)
		}
		ts := dotgov(t)[:2000] // several insert batches, and 29palms.gov
		ts[1].Criticality, ts[1].Labels, ts[1].Checks = 1, map[string]string{"region": "west"}, []string{"http", "dns"}
		if _, err := old.Upsert(ts, false); err != nil {
			t.Fatal(err)
		}
		var logb bytes.Buffer
		s, err := New(ctx, Options{DB: open(), Legacy: legacy, Logger: slog.New(slog.NewTextHandler(&logb, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Targets(); !equalTargets(got, old.Targets()) {
			t.Fatalf("%d targets after the upgrade, want %d, equal", len(got), len(ts))
		}
		if _, err := os.Stat(legacy); !os.IsNotExist(err) {
			t.Fatalf("targets.json still there: %v", err)
		}
		if _, err := os.Stat(legacy + ".imported"); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logb.String(), "targets.json.imported") || !strings.Contains(logb.String(), "added="+itoa(len(ts))) {
			t.Fatalf("log: %s", logb.String())
		}
		// A restart reads the database alone, the same targets, the same version.
		v := s.Version()
		again, err := New(ctx, Options{DB: open(), Legacy: legacy})
		if err != nil || !equalTargets(again.Targets(), old.Targets()) || again.Version() != v {
			t.Fatalf("restart: %v, %d targets, version %d then %d", err, len(again.Targets()), v, again.Version())
		}
		if Types(again)["29palms.gov"] != "City" {
			t.Fatalf("types after the upgrade: %q", Types(again)["29palms.gov"])
		}
	})
}

// Issue 22: two collectors on one database: an import through either
// is seen by the other at its next poll (Refresh), and an import over a
// version it had not seen reads the other's rows first, so its diff is
// exact.
func TestTwoCollectorsShareTargets(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() *state.DB) {
		ctx := context.Background()
		a, err := New(ctx, Options{DB: open()})
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(ctx, Options{DB: open()})
		if err != nil {
			t.Fatal(err)
		}
		ts := dotgov(t)
		if d, err := a.Upsert(ts[:100], true); err != nil || len(d.Added) != 100 || len(a.Targets()) != 0 {
			t.Fatalf("dry run: %v %v", d, err)
		}
		if changed, err := b.Refresh(ctx); err != nil || changed {
			t.Fatalf("a dry run seen as a change: %v %v", changed, err)
		}
		if d, err := a.Upsert(ts[:100], false); err != nil || len(d.Added) != 100 {
			t.Fatalf("import through a: %v %v", d, err)
		}
		bv := b.Version()
		if changed, err := b.Refresh(ctx); err != nil || !changed || len(b.Targets()) != 100 || b.Version() == bv {
			t.Fatalf("b after a's import: %v %v, %d targets", changed, err, len(b.Targets()))
		}
		// a imports more; b, not having polled, imports an overlapping file.
		if _, err := a.Upsert(ts[100:200], false); err != nil {
			t.Fatal(err)
		}
		renamed := ts[150]
		renamed.Name = "Renamed"
		d, err := b.Upsert(append(ts[190:210:210], renamed), false)
		if err != nil || len(d.Added) != 10 || len(d.Changed) != 1 || d.Unchanged != 10 {
			t.Fatalf("b over a's unseen import: %v %v", d, err)
		}
		if _, err := a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if !equalTargets(a.Targets(), b.Targets()) || len(a.Targets()) != 210 || a.Version() != b.Version() {
			t.Fatalf("a holds %d targets (version %d), b %d (version %d)", len(a.Targets()), a.Version(), len(b.Targets()), b.Version())
		}
	})
}

// Watch hands the other collector's import to changed.
func TestWatchSeesOtherImport(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() *state.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a, _ := New(ctx, Options{DB: open()})
		b, _ := New(ctx, Options{DB: open()})
		seen := make(chan int, 10)
		go b.Watch(ctx, 20*time.Millisecond, slog.New(slog.DiscardHandler), func() { seen <- len(b.Targets()) })
		if _, err := a.Upsert(dotgov(t)[:3], false); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-seen:
			if n != 3 {
				t.Fatalf("b holds %d targets", n)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("b never saw a's import")
		}
	})
}

func equalTargets(a, b []target.Target) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }
