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

func lastHash(ctx context.Context, q querier) (string, error) {
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
	if err := d.dialect.lockAudit(ctx, tx); err != nil {
		return fmt.Errorf("state: audit: lock: %w", err)
	}
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
	if _, err := tx.ExecContext(ctx, d.dialect.rebind(`INSERT INTO audit (id, at_ms, "user", action, detail, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`),
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
	return auditRows(ctx, d.db, d.dialect.rebind(`SELECT id, at_ms, "user", action, detail, prev, hash FROM audit ORDER BY id DESC LIMIT ?`), limit)
}

// AuditChain returns the whole log, oldest first, for a signed export.
func (d *DB) AuditChain(ctx context.Context) ([]AuditEntry, error) {
	return auditRows(ctx, d.db, `SELECT id, at_ms, "user", action, detail, prev, hash FROM audit ORDER BY id`)
}

func auditRows(ctx context.Context, db querier, q string, args ...any) ([]AuditEntry, error) {
	rows, err := db.QueryContext(ctx, q, args...)
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
