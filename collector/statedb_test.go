package collector

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
)

// Issue 22: the collector opens SQLite in its data directory by default,
// and the PostgreSQL state.dsn_file names when configured so.
func TestOpenStateByConfig(t *testing.T) {
	ctx := context.Background()
	c := collectorconfig.Default()
	c.DataDir = t.TempDir()
	db, err := openState(ctx, &c)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(filepath.Join(c.DataDir, "state", "bulwark.db")); err != nil || db.Driver() != state.SQLite {
		t.Fatalf("default state: %s, %v", db.Driver(), err)
	}
	dsnFile := filepath.Join(t.TempDir(), "state.dsn")
	if err := os.WriteFile(dsnFile, []byte(postgres.New(t).DSN("postgres")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.State = collectorconfig.State{Driver: collectorconfig.StatePostgres, DSNFile: dsnFile}
	if db, err = openState(ctx, &c); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Version(ctx); db.Driver() != state.Postgres || err != nil || v != state.SchemaVersion() {
		t.Fatalf("postgres state: %s version %d %v", db.Driver(), v, err)
	}
}
