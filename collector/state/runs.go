package state

import (
	"context"
	"fmt"

	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

var _ runner.Store = (*DB)(nil)

// SaveRun writes a playbook run, timeline included, replacing its last version.
func (d *DB) SaveRun(ctx context.Context, r *runner.Run) error {
	return d.putBody(ctx, "playbook_runs", "run", r.ID, r)
}

// LoadRuns returns every run kept.
func (d *DB) LoadRuns(ctx context.Context) ([]*runner.Run, error) {
	out, err := loadBodies[runner.Run](ctx, d, `SELECT body FROM playbook_runs`)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	return out, nil
}
