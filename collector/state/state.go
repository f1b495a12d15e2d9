// Package state is the collector's state database: SQLite (pure Go,
// modernc.org/sqlite) in WAL mode by default, or PostgreSQL (pgx) shared
// by several collectors. It keeps what is not a time series: dependency
// graphs with their history, drift events, silences, acknowledgements,
// the notification log, the audit chain, playbook runs, drills and the
// imported targets.
package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	_ "modernc.org/sqlite"             // the database/sql driver "sqlite"

	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// DB is the state database.
type DB struct {
	db      *sql.DB
	dialect *dialect

	mu    sync.Mutex
	saved map[string][32]byte // key -> hash of the graph last written

	auditMu sync.Mutex // one chained append at a time
}

var _ depgraph.StateStore = (*DB)(nil)

// Options say which database to open.
type Options struct {
	// Driver is SQLite (the default) or Postgres.
	Driver string
	// Path is the SQLite file.
	Path string
	// DSN is the PostgreSQL connection string (a URL or key=value pairs).
	DSN string
}

func (o *Options) validate() (*dialect, error) {
	switch o.Driver {
	case "", SQLite:
		if o.Path == "" {
			return nil, errors.New("state: sqlite needs a path")
		}
		return sqliteDialect, nil
	case Postgres:
		if o.DSN == "" {
			return nil, errors.New("state: postgres needs a DSN")
		}
		return postgresDialect, nil
	}
	return nil, fmt.Errorf("state: unknown driver %q (sqlite or postgres)", o.Driver)
}

// Open opens (or creates) the SQLite database at path.
func Open(path string) (*DB, error) {
	return New(context.Background(), Options{Driver: SQLite, Path: path})
}

// New opens the state database o names and brings its schema up to date.
func New(ctx context.Context, o Options) (*DB, error) {
	dia, err := o.validate()
	if err != nil {
		return nil, err
	}
	return open(ctx, o, dia, len(migrations))
}

// open opens the database and migrates it up to version target.
func open(ctx context.Context, o Options, dia *dialect, target int) (*DB, error) {
	var db *sql.DB
	var err error
	name := o.Path
	if dia.name == Postgres {
		name = "postgres"
		db, err = sql.Open(dia.sqlName, o.DSN)
		if err == nil {
			db.SetMaxOpenConns(8)
			db.SetMaxIdleConns(4)
			db.SetConnMaxLifetime(30 * time.Minute)
			err = db.PingContext(ctx)
		}
	} else {
		db, err = sql.Open(dia.sqlName, "file:"+o.Path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)")
		if err == nil {
			db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway
		}
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		return nil, fmt.Errorf("state: open %s: %w", name, err)
	}
	if err := migrate(ctx, db, dia, target); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: %s: %w", name, err)
	}
	return &DB{db: db, dialect: dia, saved: map[string][32]byte{}}, nil
}

// Driver is the database's driver: SQLite or Postgres.
func (d *DB) Driver() string { return d.dialect.name }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Load returns the last graphs and every drift event.
func (d *DB) Load() (map[string]*depgraph.Service, []depgraph.Drift, error) {
	ctx := context.Background()
	graphs := map[string]*depgraph.Service{}
	rows, err := d.db.QueryContext(ctx, `SELECT key, graph FROM graphs`)
	if err != nil {
		return nil, nil, fmt.Errorf("state: load graphs: %w", err)
	}
	defer rows.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	for rows.Next() {
		var key, g string
		if err := rows.Scan(&key, &g); err != nil {
			return nil, nil, fmt.Errorf("state: load graphs: %w", err)
		}
		var s depgraph.Service
		if err := json.Unmarshal([]byte(g), &s); err != nil {
			return nil, nil, fmt.Errorf("state: graph %s: %w", key, err)
		}
		graphs[key] = &s
		d.saved[key] = sha256.Sum256([]byte(g))
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("state: load graphs: %w", err)
	}
	events, err := d.Drift(ctx, "", 0)
	return graphs, events, err
}

// Save writes the graphs that changed since the last save (and a history
// row for each), and the new drift events, in one transaction.
func (d *DB) Save(graphs map[string]*depgraph.Service, drift []depgraph.Drift, at time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.db.Begin()
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer tx.Rollback()
	ms := at.UnixMilli()
	changed := map[string][32]byte{}
	for key, s := range graphs {
		b, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		h := sha256.Sum256(b)
		if old, ok := d.saved[key]; ok && old == h {
			continue
		}
		if _, err := tx.Exec(d.dialect.rebind(`INSERT INTO graphs(key, target, graph, updated_ms) VALUES(?, ?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET graph = excluded.graph, updated_ms = excluded.updated_ms`), key, s.Target, string(b), ms); err != nil {
			return fmt.Errorf("state: save graph %s: %w", key, err)
		}
		if _, err := tx.Exec(d.dialect.rebind(`INSERT INTO graph_history(key, target, graph, since_ms) VALUES(?, ?, ?, ?)`), key, s.Target, string(b), ms); err != nil {
			return fmt.Errorf("state: graph history %s: %w", key, err)
		}
		changed[key] = h
	}
	for _, e := range drift {
		if _, err := tx.Exec(d.dialect.rebind(`INSERT INTO drift(target, sector, layer, agent, vantage, before, after, from_state, to_state, first_seen_ms, evidence)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), e.Target, e.Sector, e.Layer, e.Agent, e.Vantage, e.Before, e.After,
			e.FromState, e.ToState, e.FirstSeen.UnixMilli(), e.Evidence); err != nil {
			return fmt.Errorf("state: save drift: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	for k, h := range changed {
		d.saved[k] = h
	}
	return nil
}

// Drift returns drift events, newest first, for one target or all, at
// most limit (0: all).
func (d *DB) Drift(ctx context.Context, target string, limit int) ([]depgraph.Drift, error) {
	q := `SELECT target, sector, layer, agent, vantage, before, after, from_state, to_state, first_seen_ms, evidence FROM drift`
	var args []any
	if target != "" {
		q += ` WHERE target = ?`
		args = append(args, target)
	}
	q += ` ORDER BY first_seen_ms DESC, id DESC`
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := d.db.QueryContext(ctx, d.dialect.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("state: drift: %w", err)
	}
	defer rows.Close()
	var out []depgraph.Drift
	for rows.Next() {
		var e depgraph.Drift
		var ms int64
		if err := rows.Scan(&e.Target, &e.Sector, &e.Layer, &e.Agent, &e.Vantage, &e.Before, &e.After, &e.FromState, &e.ToState, &ms, &e.Evidence); err != nil {
			return nil, fmt.Errorf("state: drift: %w", err)
		}
		e.FirstSeen = time.UnixMilli(ms).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// History returns the versions of a target's graphs, oldest first.
func (d *DB) History(ctx context.Context, target string) ([]HistoryEntry, error) {
	rows, err := d.db.QueryContext(ctx, d.dialect.rebind(`SELECT key, graph, since_ms FROM graph_history WHERE target = ? ORDER BY since_ms, id`), target)
	if err != nil {
		return nil, fmt.Errorf("state: history: %w", err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var h HistoryEntry
		var g string
		var ms int64
		if err := rows.Scan(&h.Key, &g, &ms); err != nil {
			return nil, fmt.Errorf("state: history: %w", err)
		}
		if err := json.Unmarshal([]byte(g), &h.Graph); err != nil {
			return nil, fmt.Errorf("state: history: %w", err)
		}
		h.Since = time.UnixMilli(ms).UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// HistoryEntry is one version of a graph.
type HistoryEntry struct {
	Key   string            `json:"key"`
	Since time.Time         `json:"since"`
	Graph *depgraph.Service `json:"graph"`
}
