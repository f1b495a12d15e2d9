package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Migration 4: the imported targets (collector/inventory), once the file
// DATA_DIR/state/targets.json. Each row carries the version that last
// wrote it; targets_version holds one row (id 1), the version of the
// last write, bumped by each import: a collector polls it to see another
// collector's import, then reads only the rows newer than its own. The
// row is written by the first import (none at all reads as version 0),
// so a fresh database stays empty for Copy.
const (
	targetsSQLite4 = `
CREATE TABLE targets (
	id      TEXT PRIMARY KEY,
	version INTEGER NOT NULL,  -- the targets_version that last wrote it
	body    TEXT NOT NULL      -- JSON of target.Target
);
CREATE INDEX targets_version_idx ON targets(version);
CREATE TABLE targets_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
);
`
	targetsPostgres4 = `
CREATE TABLE targets (
	id      TEXT PRIMARY KEY,
	version BIGINT NOT NULL,
	body    TEXT NOT NULL
);
CREATE INDEX targets_version_idx ON targets(version);
CREATE TABLE targets_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version BIGINT NOT NULL
);
`
)

// ErrTargetsChanged is SaveTargets' refusal when the targets were written
// (by another collector) since the version the caller read.
var ErrTargetsChanged = errors.New("state: the targets changed meanwhile")

// targetsBatch rows go in one INSERT (3 parameters each).
const targetsBatch = 300

// TargetsVersion returns the version of the last write of the targets
// (0 before the first): one row read by its key.
func (d *DB) TargetsVersion(ctx context.Context) (uint64, error) {
	var v int64
	if err := d.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM targets_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("state: targets version: %w", err)
	}
	return uint64(v), nil
}

// TargetsSince returns the targets written after version since (all of
// them for 0) and the version they are complete up to. A write committed
// while they are read may be returned too; it is returned again by the
// next call from that version, so merging them by id is exact.
func (d *DB) TargetsSince(ctx context.Context, since uint64) ([]target.Target, uint64, error) {
	v, err := d.TargetsVersion(ctx)
	if err != nil {
		return nil, 0, err
	}
	ts, err := targetsSince(ctx, d.db, d.dialect, since)
	if err != nil {
		return nil, 0, err
	}
	return ts, v, nil
}

// targetsSince reads the targets written after version since.
func targetsSince(ctx context.Context, q querier, dia *dialect, since uint64) ([]target.Target, error) {
	rows, err := q.QueryContext(ctx, dia.rebind(`SELECT id, body FROM targets WHERE version > ?`), int64(since))
	if err != nil {
		return nil, fmt.Errorf("state: targets: %w", err)
	}
	defer rows.Close()
	var out []target.Target
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("state: targets: %w", err)
		}
		var t target.Target
		if err := json.Unmarshal([]byte(body), &t); err != nil {
			return nil, fmt.Errorf("state: target %s: %w", id, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: targets: %w", err)
	}
	return out, nil
}

// SaveTargets adds or replaces ts by id, in one transaction, as version
// base+1, and returns that version. When the stored version is not base
// (another collector imported meanwhile) nothing is written and the
// answer is ErrTargetsChanged.
func (d *DB) SaveTargets(ctx context.Context, base uint64, ts []target.Target) (uint64, error) {
	return d.UpdateTargets(ctx, base, func(_ []target.Target, _ bool, v uint64) ([]target.Target, error) {
		if v != base {
			return nil, fmt.Errorf("%w: version %d, the import read %d", ErrTargetsChanged, v, base)
		}
		return ts, nil
	})
}

// UpdateTargets writes the targets fn returns as the next version, in
// one transaction that imports through other collectors wait for: the
// version row is written (locked) first. fn is handed the targets
// written after version have, by another collector, and the version they
// bring the caller to (all of them, full, when the database is older than
// have: a restore); what it returns is added or replaced by id. When it
// returns none, nothing is written and the answer is that version.
func (d *DB) UpdateTargets(ctx context.Context, have uint64,
	fn func(newer []target.Target, full bool, version uint64) ([]target.Target, error)) (uint64, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("state: targets: %w", err)
	}
	defer tx.Rollback()
	var v int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO targets_version (id, version) VALUES (1, 1)
		ON CONFLICT (id) DO UPDATE SET version = targets_version.version + 1 RETURNING version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("state: targets version: %w", err)
	}
	prev := uint64(v - 1)
	var newer []target.Target
	full := have > prev
	if prev != have {
		since := have
		if full {
			since = 0
		}
		if newer, err = targetsSince(ctx, tx, d.dialect, since); err != nil {
			return 0, err
		}
	}
	ts, err := fn(newer, full, prev)
	if err != nil || len(ts) == 0 {
		return prev, err
	}
	for start := 0; start < len(ts); start += targetsBatch {
		batch := ts[start:min(start+targetsBatch, len(ts))]
		args := make([]any, 0, 3*len(batch))
		for _, t := range batch {
			b, err := json.Marshal(t)
			if err != nil {
				return 0, fmt.Errorf("state: target %s: %w", t.ID, err)
			}
			args = append(args, t.ID, v, string(b))
		}
		q := `INSERT INTO targets (id, version, body) VALUES ` + strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(batch)), ", ") +
			` ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body`
		if _, err := tx.ExecContext(ctx, d.dialect.rebind(q), args...); err != nil {
			return 0, fmt.Errorf("state: targets: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("state: targets: commit: %w", err)
	}
	return uint64(v), nil
}
