package state

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
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
	}
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
