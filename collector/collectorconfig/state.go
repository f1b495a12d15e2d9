package collectorconfig

import (
	"fmt"
	"path/filepath"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// State says where the collector keeps its state (incidents, silences,
// acknowledgements, the notification log, the audit chain, playbook runs,
// drills, graphs and drift): SQLite in the data directory by default, or
// a PostgreSQL that several collectors share.
type State struct {
	// Driver is sqlite (the default) or postgres.
	Driver string `yaml:"driver"`
	// Path is the SQLite file (default DATA_DIR/state/bulwark.db).
	Path string `yaml:"path"`
	// DSNFile holds the PostgreSQL connection string (a postgres:// URL
	// or key=value pairs), password included: a secret, kept out of the
	// configuration. Without a password in it, PGPASSFILE and ~/.pgpass
	// are read as libpq would.
	DSNFile string `yaml:"dsn_file"`
}

// StateSQLite and StatePostgres are the drivers of State.
const (
	StateSQLite   = "sqlite"
	StatePostgres = "postgres"
)

// SQLitePath is the SQLite file the state is kept in.
func (c *Config) SQLitePath() string {
	if c.State.Path != "" {
		return c.State.Path
	}
	return filepath.Join(c.DataDir, "state", "bulwark.db")
}

// DSN reads the PostgreSQL connection string from dsn_file.
func (s State) DSN() (string, error) {
	dsn, err := configfile.Secret(s.DSNFile, "")
	if err != nil {
		return "", fmt.Errorf("state.dsn_file: %w", err)
	}
	return dsn, nil
}

func (s State) validate(at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	switch s.Driver {
	case "", StateSQLite:
		if s.DSNFile != "" {
			ps = append(ps, configfile.At(at.Add("dsn_file"), "is for the postgres driver; sqlite keeps its state in path"))
		}
	case StatePostgres:
		if s.DSNFile == "" {
			ps = append(ps, configfile.At(at, "the postgres driver needs dsn_file (a file holding the connection string)"))
		}
		if s.Path != "" {
			ps = append(ps, configfile.At(at.Add("path"), "is for the sqlite driver; postgres is reached through dsn_file"))
		}
	default:
		ps = append(ps, configfile.At(at.Add("driver"), "driver %q must be sqlite or postgres", s.Driver))
	}
	return ps
}
