package state

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
)

// driver is one database the state tests run against.
type driver struct {
	name string
	// fresh returns the options of a new, empty database.
	fresh func(t *testing.T) Options
}

// drivers are the databases every test runs on.
func drivers() []driver {
	return []driver{
		{SQLite, func(t *testing.T) Options {
			return Options{Driver: SQLite, Path: filepath.Join(t.TempDir(), "bulwark.db")}
		}},
		{Postgres, func(t *testing.T) Options {
			return Options{Driver: Postgres, DSN: pg.Database(t)}
		}},
	}
}

// pg is the PostgreSQL 15 the tests share (a database each).
var pg postgres.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

// eachDriver runs f on a fresh database of every driver.
func eachDriver(t *testing.T, f func(t *testing.T, o Options)) {
	for _, d := range drivers() {
		t.Run(d.name, func(t *testing.T) { f(t, d.fresh(t)) })
	}
}

// mustOpen opens the database o names, closed at the end of the test.
func mustOpen(t *testing.T, o Options) *DB {
	t.Helper()
	db, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawDB opens the database o names without migrating it.
func rawDB(t *testing.T, o Options) (*sql.DB, *dialect) {
	t.Helper()
	dia, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	src := "file:" + o.Path
	if dia.name == Postgres {
		src = o.DSN
	}
	db, err := sql.Open(dia.sqlName, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dia
}
