package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bulwarkhq/bulwark/internal/audit"
)

// The audit log is hash-chained: each row carries the hash of the one
// before (internal/audit), so an export can be verified entry by entry.

// migrateAudit adds the chain's columns to a database written before them
// and chains the rows already there, in order.
func (d *DB) migrateAudit(ctx context.Context) error {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('audit') WHERE name = 'hash'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		for _, col := range []string{"prev", "hash"} {
			if _, err := d.db.ExecContext(ctx, `ALTER TABLE audit ADD COLUMN `+col+` TEXT NOT NULL DEFAULT ''`); err != nil {
				return err
			}
		}
	}
	entries, err := d.auditRows(ctx, `SELECT id, at_ms, user, action, detail, prev, hash FROM audit WHERE hash = '' ORDER BY id`)
	if err != nil || len(entries) == 0 {
		return err
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prev, err := lastHash(ctx, tx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		e.Chain(prev)
		if _, err := tx.ExecContext(ctx, `UPDATE audit SET prev = ?, hash = ? WHERE id = ?`, e.Prev, e.Hash, e.Seq); err != nil {
			return err
		}
		prev = e.Hash
	}
	return tx.Commit()
}

func lastHash(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (string, error) {
	var h string
	err := q.QueryRowContext(ctx, `SELECT hash FROM audit WHERE hash != '' ORDER BY id DESC LIMIT 1`).Scan(&h)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return h, err
}

// Audit records an operator's action, chained to the one before.
func (d *DB) Audit(ctx context.Context, user, action string, detail any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("state: audit: %w", err)
	}
	d.auditMu.Lock()
	defer d.auditMu.Unlock()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: audit: %w", err)
	}
	defer tx.Rollback()
	prev, err := lastHash(ctx, tx)
	if err != nil {
		return fmt.Errorf("state: audit: %w", err)
	}
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) + 1 FROM audit`).Scan(&next); err != nil {
		return fmt.Errorf("state: audit: %w", err)
	}
	e := audit.Entry{Seq: next, At: time.UnixMilli(time.Now().UnixMilli()).UTC(), User: user, Action: action, Detail: b}
	e.Chain(prev)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit (id, at_ms, user, action, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.At.UnixMilli(), user, action, string(b), e.Prev, e.Hash); err != nil {
		return fmt.Errorf("state: audit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: audit: %w", err)
	}
	return nil
}

// AuditEntry is one recorded action.
type AuditEntry = audit.Entry

// AuditLog returns the newest actions first, at most limit.
func (d *DB) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	return d.auditRows(ctx, `SELECT id, at_ms, user, action, detail, prev, hash FROM audit ORDER BY id DESC LIMIT ?`, limit)
}

// AuditChain returns the whole log, oldest first, for a signed export.
func (d *DB) AuditChain(ctx context.Context) ([]AuditEntry, error) {
	return d.auditRows(ctx, `SELECT id, at_ms, user, action, detail, prev, hash FROM audit ORDER BY id`)
}

func (d *DB) auditRows(ctx context.Context, q string, args ...any) ([]AuditEntry, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("state: audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var ms int64
		var detail string
		if err := rows.Scan(&e.Seq, &ms, &e.User, &e.Action, &detail, &e.Prev, &e.Hash); err != nil {
			return nil, fmt.Errorf("state: audit: %w", err)
		}
		e.At, e.Detail = time.UnixMilli(ms).UTC(), json.RawMessage(detail)
		out = append(out, e)
	}
	return out, rows.Err()
}
