package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
)

var _ alerting.Log = (*DB)(nil)

// nflogMeta is what an entry keeps of its incident, as JSON in the meta
// column (added after the first release, hence not columns of its own).
type nflogMeta struct {
	Incident string           `json:"incident,omitempty"`
	Version  uint64           `json:"version,omitempty"`
	Starts   map[string]int64 `json:"starts,omitempty"` // fingerprint (decimal) -> unix ms
}

// Get returns the last notification of a group to a receiver.
func (d *DB) Get(ctx context.Context, receiver, groupKey string) (alerting.LogEntry, bool, error) {
	var e alerting.LogEntry
	var fh, rh []byte
	var ms, since int64
	var meta string
	err := d.db.QueryRowContext(ctx, d.dialect.rebind(`SELECT firing_hash, resolved_hash, sent_ms, since_ms, thread, meta FROM notification_log WHERE receiver = ? AND group_key = ?`),
		receiver, groupKey).Scan(&fh, &rh, &ms, &since, &e.Thread, &meta)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("state: notification log: %w", err)
	}
	copy(e.FiringHash[:], fh)
	copy(e.ResolvedHash[:], rh)
	if ms != 0 {
		e.SentAt = time.UnixMilli(ms)
	}
	if since != 0 {
		e.Since = time.UnixMilli(since)
	}
	var m nflogMeta
	if err := json.Unmarshal([]byte(meta), &m); err != nil {
		return e, false, fmt.Errorf("state: notification log %s %s: meta: %w", receiver, groupKey, err)
	}
	e.Incident, e.Version = m.Incident, m.Version
	for k, v := range m.Starts {
		fp, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			return e, false, fmt.Errorf("state: notification log %s %s: meta: fingerprint %q: %w", receiver, groupKey, k, err)
		}
		if e.Starts == nil {
			e.Starts = map[uint64]time.Time{}
		}
		e.Starts[fp] = time.UnixMilli(v)
	}
	return e, true, nil
}

// Put records the notification of a group to a receiver.
func (d *DB) Put(ctx context.Context, receiver, groupKey string, e alerting.LogEntry) error {
	m := nflogMeta{Incident: e.Incident, Version: e.Version}
	for fp, t := range e.Starts {
		if m.Starts == nil {
			m.Starts = map[string]int64{}
		}
		m.Starts[strconv.FormatUint(fp, 10)] = t.UnixMilli()
	}
	meta, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("state: notification log: %w", err)
	}
	_, err = d.db.ExecContext(ctx, d.dialect.rebind(`INSERT INTO notification_log (receiver, group_key, firing_hash, resolved_hash, sent_ms, since_ms, thread, meta)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (receiver, group_key) DO UPDATE SET firing_hash = excluded.firing_hash,
		resolved_hash = excluded.resolved_hash, sent_ms = excluded.sent_ms, since_ms = excluded.since_ms, thread = excluded.thread,
		meta = excluded.meta`),
		receiver, groupKey, e.FiringHash[:], e.ResolvedHash[:], ms(e.SentAt), ms(e.Since), e.Thread, string(meta))
	if err != nil {
		return fmt.Errorf("state: notification log: %w", err)
	}
	return nil
}

// ms is t in unix milliseconds, 0 for the zero time.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// GC deletes the entries last sent before before, except those of groups
// live says are held.
func (d *DB) GC(ctx context.Context, before time.Time, live func(receiver, groupKey string) bool) (int, error) {
	rows, err := d.db.QueryContext(ctx, d.dialect.rebind(`SELECT receiver, group_key FROM notification_log WHERE sent_ms < ?`), before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("state: notification log GC: %w", err)
	}
	type key struct{ receiver, group string }
	var old []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.receiver, &k.group); err != nil {
			rows.Close()
			return 0, fmt.Errorf("state: notification log GC: %w", err)
		}
		if !live(k.receiver, k.group) {
			old = append(old, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("state: notification log GC: %w", err)
	}
	for _, k := range old {
		if _, err := d.db.ExecContext(ctx, d.dialect.rebind(`DELETE FROM notification_log WHERE receiver = ? AND group_key = ? AND sent_ms < ?`),
			k.receiver, k.group, before.UnixMilli()); err != nil {
			return 0, fmt.Errorf("state: notification log GC: %w", err)
		}
	}
	return len(old), nil
}
