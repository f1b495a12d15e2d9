package collectorconfig

import (
	"os"
	"path/filepath"
	"testing"
)

// Issue 22: the state database is SQLite in the data directory unless
// the configuration names PostgreSQL and a file holding its DSN.
func TestStateConfig(t *testing.T) {
	c, err := Load("testdata/state-postgres.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.State.Driver != StatePostgres || c.State.DSNFile != "/etc/bulwark/state.dsn" {
		t.Fatalf("state %+v", c.State)
	}
	d := Default()
	if d.State.Driver != "" || d.SQLitePath() != filepath.Join("data", "state", "bulwark.db") {
		t.Fatalf("default state %+v at %s", d.State, d.SQLitePath())
	}
	d.State.Path = "/srv/state.db"
	if d.SQLitePath() != "/srv/state.db" {
		t.Fatalf("path %s", d.SQLitePath())
	}
	f := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(f, []byte("postgres://bulwark@db.cert.example/bulwark\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if dsn, err := (State{DSNFile: f}).DSN(); err != nil || dsn != "postgres://bulwark@db.cert.example/bulwark" {
		t.Fatalf("dsn %q %v", dsn, err)
	}
}

func TestStateConfigInvalid(t *testing.T) {
	cases := map[string]string{
		"state-invalid-driver.yml":        `testdata/state-invalid-driver.yml:2: state.driver: driver "mysql" must be sqlite or postgres`,
		"state-invalid-no-dsn.yml":        `testdata/state-invalid-no-dsn.yml:2: state: the postgres driver needs dsn_file (a file holding the connection string)`,
		"state-invalid-sqlite-dsn.yml":    `testdata/state-invalid-sqlite-dsn.yml:3: state.dsn_file: is for the postgres driver; sqlite keeps its state in path`,
		"state-invalid-postgres-path.yml": `testdata/state-invalid-postgres-path.yml:4: state.path: is for the sqlite driver; postgres is reached through dsn_file`,
	}
	files, _ := filepath.Glob("testdata/state-invalid-*.yml")
	if len(files) != len(cases) {
		t.Errorf("%d state-invalid-*.yml files but %d cases", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", name))
			if err == nil || err.Error() != want {
				t.Errorf("error\n got: %v\nwant: %s", err, want)
			}
		})
	}
}
