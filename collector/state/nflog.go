package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
)

var _ alerting.Log = (*DB)(nil)

// Get returns the last notification of a group to a receiver.
func (d *DB) Get(ctx context.Context, receiver, groupKey string) (alerting.LogEntry, bool, error) {
	var e alerting.LogEntry
	var fh, rh []byte
	var ms, since int64
	err := d.db.QueryRowContext(ctx, `SELECT firing_hash, resolved_hash, sent_ms, since_ms, thread FROM notification_log WHERE receiver = ? AND group_key = ?`,
		receiver, groupKey).Scan(&fh, &rh, &ms, &since, &e.Thread)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("state: notification log: %w", err)
	}
	copy(e.FiringHash[:], fh)
	copy(e.ResolvedHash[:], rh)
	e.SentAt = time.UnixMilli(ms)
	if since != 0 {
		e.Since = time.UnixMilli(since)
	}
	return e, true, nil
}

// Put records the notification of a group to a receiver.
func (d *DB) Put(ctx context.Context, receiver, groupKey string, e alerting.LogEntry) error {
	since := int64(0)
	if !e.Since.IsZero() {
		since = e.Since.UnixMilli()
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO notification_log (receiver, group_key, firing_hash, resolved_hash, sent_ms, since_ms, thread)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (receiver, group_key) DO UPDATE SET firing_hash = excluded.firing_hash,
		resolved_hash = excluded.resolved_hash, sent_ms = excluded.sent_ms, since_ms = excluded.since_ms, thread = excluded.thread`,
		receiver, groupKey, e.FiringHash[:], e.ResolvedHash[:], e.SentAt.UnixMilli(), since, e.Thread)
	if err != nil {
		return fmt.Errorf("state: notification log: %w", err)
	}
	return nil
}
