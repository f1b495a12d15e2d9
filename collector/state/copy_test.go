package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// The copy's table list is the schema: every table a migration makes
// (but the version table), with every column, on both drivers.
func TestCopyTablesAreTheSchema(t *testing.T) {
	eachDriver(t, func(t *testing.T, o Options) {
		db := mustOpen(t, o)
		ctx := context.Background()
		tq, cq := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`, `SELECT name FROM pragma_table_info(?)`
		if db.Driver() == Postgres {
			tq = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`
			cq = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
		}
		var have []string
		if err := eachString(ctx, db, tq, func(s string) { have = append(have, s) }); err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, tb := range tables {
			listed = append(listed, tb.name)
			var cols []string
			if err := eachString(ctx, db, cq, func(s string) { cols = append(cols, s) }, tb.name); err != nil {
				t.Fatal(err)
			}
			slices.Sort(cols)
			want := slices.Sorted(slices.Values(tb.columns))
			if !slices.Equal(cols, want) {
				t.Errorf("%s: columns %v, the copy knows %v", tb.name, cols, want)
			}
		}
		listed = append(listed, "schema_migrations")
		slices.Sort(listed)
		if !slices.Equal(have, listed) {
			t.Errorf("tables %v, the copy knows %v", have, listed)
		}
	})
}

func eachString(ctx context.Context, db *DB, q string, f func(string), args ...any) error {
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		f(s)
	}
	return rows.Err()
}

// fill writes rows to every table through the collector's own calls.
func fill(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	t0 := time.UnixMilli(1_790_000_000_000).UTC()
	raw, dia := db.db, db.dialect
	seedAt(t, raw, dia, SchemaVersion())
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		g := &depgraph.Service{Target: fmt.Sprint("t", i%7), Score: float64(i)}
		if err := errors.Join(
			db.Save(map[string]*depgraph.Service{g.Target: g}, []depgraph.Drift{{Target: g.Target, Evidence: fmt.Sprint("e", i), FirstSeen: at}}, at),
			db.SaveAck(ctx, &alerting.Ack{GroupKey: fmt.Sprint("g", i), By: "otto", At: at}),
			db.Put(ctx, "duty", fmt.Sprint("g", i), alerting.LogEntry{SentAt: at, FiringHash: [32]byte{byte(i)}, Incident: "x"}),
			db.Audit(ctx, "otto", "ack", map[string]int{"n": i}),
		); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 22: `state migrate` copies SQLite to PostgreSQL and back, each
// table checked row by row, the audit chain still verifying, and the
// copy's row ids followed on by new rows; a target with rows is refused
// unless replacing is asked for.
func TestCopyBetweenDrivers(t *testing.T) {
	ctx := context.Background()
	from := mustOpen(t, Options{Path: filepath.Join(t.TempDir(), "from.db")})
	fill(t, from, 450) // more than one insert batch
	var pgOpts Options
	for _, d := range drivers() {
		if d.name == Postgres {
			pgOpts = d.fresh(t)
		}
	}
	to := mustOpen(t, pgOpts)
	report, err := Copy(ctx, from, to, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, r := range report {
		rows[r.Table] = r.Rows
	}
	if rows["audit"] != 451 || rows["acks"] != 451 || rows["drift"] != 451 || rows["notification_log"] != 451 || rows["graphs"] != 8 {
		t.Fatalf("copied %v", rows)
	}
	verifyChain(t, to, 451)
	// New rows follow on from the copied ids.
	if err := errors.Join(to.SaveAck(ctx, &alerting.Ack{GroupKey: "after"}), to.Audit(ctx, "ada", "after", nil),
		to.Save(nil, []depgraph.Drift{{Target: "after"}}, time.Now())); err != nil {
		t.Fatal(err)
	}
	acks, err := to.LoadAcks(ctx)
	if err != nil || len(acks) != 452 || acks[451].GroupKey != "after" {
		t.Fatalf("acks after the copy: %d %v", len(acks), err)
	}
	verifyChain(t, to, 452)

	if _, err := Copy(ctx, from, to, CopyOptions{}); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("copy over rows: %v", err)
	}
	if _, err := Copy(ctx, from, to, CopyOptions{Replace: true}); err != nil {
		t.Fatalf("copy with replace: %v", err)
	}
	verifyChain(t, to, 451)

	// And back: the same content hash per table.
	back := mustOpen(t, Options{Path: filepath.Join(t.TempDir(), "back.db")})
	report2, err := Copy(ctx, to, back, CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(report, report2) {
		t.Fatalf("there %v\nback %v", report, report2)
	}
	verifyChain(t, back, 451)
}

// A row changed between the copy and the read back is named.
func TestCopyNamesDifference(t *testing.T) {
	a := map[[32]byte]string{{1}: "s1", {2}: "s2"}
	b := map[[32]byte]string{{1}: "s1", {3}: "s2"}
	if got := firstDifference(a, b); got != `source row "s2" is missing or altered in the target` {
		t.Fatal(got)
	}
	if setHash(a) == setHash(b) {
		t.Fatal("different rows, one hash")
	}
}
