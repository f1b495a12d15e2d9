package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bulwarkhq/bulwark/playbooks/drill"
)

var _ drill.Store = (*DB)(nil)

// SaveDrill writes a drill, replacing its last version.
func (d *DB) SaveDrill(ctx context.Context, dr *drill.Drill) error {
	b, err := json.Marshal(dr)
	if err != nil {
		return fmt.Errorf("state: drill: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, d.dialect.rebind(`INSERT INTO drills (id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body`),
		dr.ID, string(b)); err != nil {
		return fmt.Errorf("state: drill %s: %w", dr.ID, err)
	}
	return nil
}

// LoadDrills returns every drill kept.
func (d *DB) LoadDrills(ctx context.Context) ([]*drill.Drill, error) {
	var out []*drill.Drill
	err := d.each(ctx, `SELECT body FROM drills`, func(b []byte) error {
		var dr drill.Drill
		if err := json.Unmarshal(b, &dr); err != nil {
			return err
		}
		if dr.Set != nil {
			dr.Set.Compile()
		}
		out = append(out, &dr)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: drills: %w", err)
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
