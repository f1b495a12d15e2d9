package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwarkhq/bulwark/playbooks/drill"
)

var _ drill.Store = (*DB)(nil)

// SaveDrill writes a drill, replacing its last version.
func (d *DB) SaveDrill(ctx context.Context, dr *drill.Drill) error {
	return d.putBody(ctx, "drills", "drill", dr.ID, dr)
}

// LoadDrills returns every drill kept.
func (d *DB) LoadDrills(ctx context.Context) ([]*drill.Drill, error) {
	out, err := loadBodies[drill.Drill](ctx, d, `SELECT body FROM drills`)
	if err != nil {
		return nil, fmt.Errorf("state: drills: %w", err)
	}
	for _, dr := range out {
		if dr.Set != nil {
			dr.Set.Compile()
		}
	}
	return out, nil
}

// ErrNoFileBackup is BackupTo's answer on PostgreSQL, whose state is
// backed up by its own tools (pg_dump, base backups), not into a file here.
var ErrNoFileBackup = errors.New("state: the PostgreSQL state is backed up with pg_dump or its base backups, not by the collector")

// BackupTo writes a consistent copy of the SQLite database to path while
// it is in use (VACUUM INTO).
func (d *DB) BackupTo(ctx context.Context, path string) error {
	if d.dialect.name != SQLite {
		return ErrNoFileBackup
	}
	if _, err := d.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("state: backup: %w", err)
	}
	return nil
}
