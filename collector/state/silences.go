package state

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bulwarkhq/bulwark/alerting"
)

var _ alerting.SilenceStore = (*DB)(nil)

// LoadSilences returns every silence kept.
func (d *DB) LoadSilences(ctx context.Context) ([]*alerting.Silence, error) {
	var out []*alerting.Silence
	err := d.each(ctx, `SELECT body FROM silences ORDER BY id`, func(b []byte) error {
		var s alerting.Silence
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		out = append(out, &s)
		return nil
	})
	return out, err
}

// SaveSilence writes a silence, replacing one with its id.
func (d *DB) SaveSilence(ctx context.Context, s *alerting.Silence) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("state: silence: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, d.dialect.rebind(`INSERT INTO silences (id, body) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body`), s.ID, string(b)); err != nil {
		return fmt.Errorf("state: silence: %w", err)
	}
	return nil
}

// LoadAcks returns the acknowledgements in the order they were given.
func (d *DB) LoadAcks(ctx context.Context) ([]*alerting.Ack, error) {
	var out []*alerting.Ack
	err := d.each(ctx, `SELECT body FROM acks ORDER BY id`, func(b []byte) error {
		var a alerting.Ack
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		out = append(out, &a)
		return nil
	})
	return out, err
}

// SaveAck appends an acknowledgement (or its removal).
func (d *DB) SaveAck(ctx context.Context, a *alerting.Ack) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("state: ack: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, d.dialect.rebind(`INSERT INTO acks (body) VALUES (?)`), string(b)); err != nil {
		return fmt.Errorf("state: ack: %w", err)
	}
	return nil
}

// DeleteSilence forgets a silence.
func (d *DB) DeleteSilence(ctx context.Context, id string) error {
	if _, err := d.db.ExecContext(ctx, d.dialect.rebind(`DELETE FROM silences WHERE id = ?`), id); err != nil {
		return fmt.Errorf("state: silence %s: %w", id, err)
	}
	return nil
}

// CompactAcks replaces the acknowledgement records by live, in its order.
func (d *DB) CompactAcks(ctx context.Context, live []*alerting.Ack) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: acks: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM acks`); err != nil {
		return fmt.Errorf("state: acks: %w", err)
	}
	for _, a := range live {
		b, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("state: ack: %w", err)
		}
		if _, err := tx.ExecContext(ctx, d.dialect.rebind(`INSERT INTO acks (body) VALUES (?)`), string(b)); err != nil {
			return fmt.Errorf("state: ack: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: acks: %w", err)
	}
	return nil
}

func (d *DB) each(ctx context.Context, query string, f func([]byte) error) error {
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if err := f([]byte(b)); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	return rows.Err()
}
