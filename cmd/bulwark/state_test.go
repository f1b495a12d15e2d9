package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
)

// Issue 22: `bulwark state migrate` moves a stopped collector's SQLite
// state into PostgreSQL, checks every table row by row, and leaves an
// audit chain that verifies; a non-empty target is refused unless
// --replace is given.
func TestStateMigrateCommand(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bulwark.db")
	db, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_790_000_000_000)
	for i, id := range []string{"a", "b", "c"} {
		if err := errors.Join(
			db.SaveSilence(ctx, &alerting.Silence{ID: id, Matchers: map[string]string{"target": id}, StartsAt: now, EndsAt: now.Add(time.Hour), By: "otto"}),
			db.Audit(ctx, "otto", "silence", map[string]any{"id": id, "n": i}),
			db.SaveAck(ctx, &alerting.Ack{GroupKey: id, By: "otto", At: now}),
		); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SaveTargets(ctx, 0, []target.Target{{ID: "grid", Sector: "energy", URL: "https://grid.test/"}, {ID: "bank", Sector: "finance"}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	pg := postgres.New(t)
	dsn := pg.NewDatabase(t)
	migrate := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append([]string{"state", "migrate"}, args...), &out, &errb)
		return out.String(), err
	}
	out, err := migrate("--from", "sqlite:"+path, "--to", "postgres:"+dsn)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "audit chain of 3 entries verifies") || !strings.Contains(out, "silences                3 rows") ||
		!strings.Contains(out, "targets                 2 rows") || !strings.Contains(out, "targets_version         1 rows") {
		t.Fatalf("output:\n%s", out)
	}
	pdb, err := state.New(ctx, state.Options{Driver: state.Postgres, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	sils, err := pdb.LoadSilences(ctx)
	if err != nil || len(sils) != 3 || sils[2].ID != "c" {
		t.Fatalf("silences in postgres: %v %+v", err, sils)
	}
	// The imported targets came along, at their version: a collector on
	// PostgreSQL reads them and imports over them.
	inv, err := inventory.New(ctx, inventory.Options{DB: pdb})
	if err != nil || len(inv.Targets()) != 2 || inv.Targets()[1].URL != "https://grid.test/" || inv.Version() != 1 {
		t.Fatalf("targets in postgres: %v %+v version %d", err, inv.Targets(), inv.Version())
	}
	if d, err := inv.Upsert([]target.Target{{ID: "water", Sector: "energy"}}, false); err != nil || len(d.Added) != 1 {
		t.Fatalf("import after the migration: %v %v", d, err)
	}
	if err := pdb.Audit(ctx, "ada", "after-migrate", nil); err != nil {
		t.Fatal(err)
	}
	if n, err := pdb.VerifyAuditChain(ctx); err != nil || n != 4 {
		t.Fatalf("chain after a new entry: %d %v", n, err)
	}
	pdb.Close()

	if _, err := migrate("--from", "sqlite:"+path, "--to", "postgres:"+dsn); !errors.Is(err, state.ErrTargetNotEmpty) {
		t.Fatalf("second migrate into a used database: %v", err)
	}
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600)
	if out, err := migrate("--from", "sqlite:"+path, "--to", "postgres", "--dsn-file", dsnFile, "--replace"); err != nil {
		t.Fatalf("--replace: %v\n%s", err, out)
	}
	// Back to SQLite, the way out.
	back := filepath.Join(t.TempDir(), "back.db")
	if out, err := migrate("--from", "postgres:"+dsn, "--to", "sqlite:"+back); err != nil || !strings.Contains(out, "audit chain of 3 entries verifies") {
		t.Fatalf("back to sqlite: %v\n%s", err, out)
	}
	if _, err := migrate("--from", "sqlite:"+filepath.Join(t.TempDir(), "none.db"), "--to", "postgres:"+dsn); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("a missing source: %v", err)
	}
	if _, err := migrate("--from", "mysql:x", "--to", "postgres:"+dsn); err == nil || !strings.Contains(err.Error(), "want sqlite:PATH or postgres:DSN") {
		t.Fatalf("an unknown driver: %v", err)
	}
}

func TestStateHelp(t *testing.T) {
	for _, args := range [][]string{{"state", "--help"}, {"state", "migrate", "--help"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(strings.ToLower(out.String()), "usage") {
			t.Errorf("%v printed no usage: %q %q", args, out.String(), errb.String())
		}
	}
}
