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
	return loadBodies[alerting.Silence](ctx, d, `SELECT body FROM silences ORDER BY id`)
}

// SaveSilence writes a silence, replacing one with its id.
func (d *DB) SaveSilence(ctx context.Context, s *alerting.Silence) error {
	return d.putBody(ctx, "silences", "silence", s.ID, s)
}

// LoadAcks returns the acknowledgements in the order they were given.
func (d *DB) LoadAcks(ctx context.Context) ([]*alerting.Ack, error) {
	return loadBodies[alerting.Ack](ctx, d, `SELECT body FROM acks ORDER BY id`)
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
