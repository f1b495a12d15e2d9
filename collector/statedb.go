package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/state"
)

// openState opens the state database the configuration names: SQLite in
// the data directory by default, or PostgreSQL through state.dsn_file.
func openState(ctx context.Context, c *collectorconfig.Config) (*state.DB, error) {
	if c.State.Driver == collectorconfig.StatePostgres {
		dsn, err := c.State.DSN()
		if err != nil {
			return nil, err
		}
		return state.New(ctx, state.Options{Driver: state.Postgres, DSN: dsn})
	}
	path := c.SQLitePath()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return state.Open(path)
}
