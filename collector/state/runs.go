package state

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

var _ runner.Store = (*DB)(nil)

// SaveRun writes a playbook run, timeline included, replacing its last version.
func (d *DB) SaveRun(ctx context.Context, r *runner.Run) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("state: run: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, d.dialect.rebind(`INSERT INTO playbook_runs (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body`),
		r.ID, string(b)); err != nil {
		return fmt.Errorf("state: run %s: %w", r.ID, err)
	}
	return nil
}

// LoadRuns returns every run kept.
func (d *DB) LoadRuns(ctx context.Context) ([]*runner.Run, error) {
	var out []*runner.Run
	err := d.each(ctx, `SELECT body FROM playbook_runs`, func(b []byte) error {
		var r runner.Run
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		out = append(out, &r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	return out, nil
}
