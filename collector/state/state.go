// Package state is the collector's state database: SQLite (pure Go,
// modernc.org/sqlite) in WAL mode. It keeps what is not a time series:
// dependency graphs with their history, and drift events.
package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// DB is the state database.
type DB struct {
	db *sql.DB

	mu    sync.Mutex
	saved map[string][32]byte // key -> hash of the graph last written

	auditMu sync.Mutex // one chained append at a time
}

var _ depgraph.StateStore = (*DB)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS graphs (
	key        TEXT PRIMARY KEY,  -- target, or target@agent
	target     TEXT NOT NULL,
	graph      TEXT NOT NULL,     -- JSON of depgraph.Service
	updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS graph_history (
	id       INTEGER PRIMARY KEY,
	key      TEXT NOT NULL,
	target   TEXT NOT NULL,
	graph    TEXT NOT NULL,
	since_ms INTEGER NOT NULL     -- when this version was first seen
);
CREATE INDEX IF NOT EXISTS graph_history_target ON graph_history(target, since_ms);
CREATE TABLE IF NOT EXISTS drift (
	id            INTEGER PRIMARY KEY,
	target        TEXT NOT NULL,
	sector        TEXT NOT NULL,
	layer         TEXT NOT NULL,
	agent         TEXT NOT NULL,
	vantage       TEXT NOT NULL,
	before        TEXT NOT NULL,
	after         TEXT NOT NULL,
	from_state    TEXT NOT NULL,
	to_state      TEXT NOT NULL,
	first_seen_ms INTEGER NOT NULL,
	evidence      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_target ON drift(target, first_seen_ms);
CREATE TABLE IF NOT EXISTS silences (
	id   TEXT PRIMARY KEY,
	body TEXT NOT NULL      -- JSON of alerting.Silence
);
CREATE TABLE IF NOT EXISTS acks (
	id   INTEGER PRIMARY KEY,
	body TEXT NOT NULL      -- JSON of alerting.Ack, in the order given
);
CREATE TABLE IF NOT EXISTS drills (
	id   TEXT PRIMARY KEY,
	body TEXT NOT NULL      -- JSON of drill.Drill, its cut-set included
);
CREATE TABLE IF NOT EXISTS playbook_runs (
	id   TEXT PRIMARY KEY,
	body TEXT NOT NULL      -- JSON of runner.Run, its timeline included
);
CREATE TABLE IF NOT EXISTS audit (
	id     INTEGER PRIMARY KEY,
	at_ms  INTEGER NOT NULL,
	user   TEXT NOT NULL,
	action TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notification_log (
	receiver      TEXT NOT NULL,
	group_key     TEXT NOT NULL,
	firing_hash   BLOB NOT NULL,
	resolved_hash BLOB NOT NULL,
	sent_ms       INTEGER NOT NULL,
	since_ms      INTEGER NOT NULL,   -- first notified firing; 0 once resolved
	thread        TEXT NOT NULL,
	PRIMARY KEY (receiver, group_key)
);
`

// Open opens (or creates) the database at path.
func Open(path string) (*DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer; SQLite serialises anyway
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: %s: schema: %w", path, err)
	}
	d := &DB{db: db, saved: map[string][32]byte{}}
	if err := d.migrateAudit(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: %s: audit chain: %w", path, err)
	}
	if err := d.migrateNflog(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: %s: notification log: %w", path, err)
	}
	return d, nil
}

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
		if _, err := tx.Exec(`INSERT INTO graphs(key, target, graph, updated_ms) VALUES(?, ?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET graph = excluded.graph, updated_ms = excluded.updated_ms`, key, s.Target, string(b), ms); err != nil {
			return fmt.Errorf("state: save graph %s: %w", key, err)
		}
		if _, err := tx.Exec(`INSERT INTO graph_history(key, target, graph, since_ms) VALUES(?, ?, ?, ?)`, key, s.Target, string(b), ms); err != nil {
			return fmt.Errorf("state: graph history %s: %w", key, err)
		}
		changed[key] = h
	}
	for _, e := range drift {
		if _, err := tx.Exec(`INSERT INTO drift(target, sector, layer, agent, vantage, before, after, from_state, to_state, first_seen_ms, evidence)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Target, e.Sector, e.Layer, e.Agent, e.Vantage, e.Before, e.After,
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
	rows, err := d.db.QueryContext(ctx, q, args...)
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
	rows, err := d.db.QueryContext(ctx, `SELECT key, graph, since_ms FROM graph_history WHERE target = ? ORDER BY since_ms, id`, target)
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
