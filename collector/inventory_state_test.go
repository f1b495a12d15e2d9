package collector

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
)

// startWithState starts a collector on dataDir whose state is SQLite in
// it (dsnFile "") or the PostgreSQL dsnFile names.
func startWithState(t *testing.T, dataDir, dsnFile string) *App {
	t.Helper()
	c := collectorconfig.Default()
	c.DataDir = dataDir
	if dsnFile != "" {
		c.State = collectorconfig.State{Driver: collectorconfig.StatePostgres, DSNFile: dsnFile}
	}
	agents := auth.NewAgents()
	agents.Add("agent-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	users := auth.NewUsers()
	users.Add("op-token", false, auth.User{ID: "alice", Role: auth.RoleOperator})
	app, err := New(Options{Config: &c, Agents: agents, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop(context.Background()) })
	return app
}

// handed is the ids of the targets app hands agent home-1.
func handed(t *testing.T, app *App) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+app.Addr()+"/api/v1/agents/home-1/targets", nil)
	req.Header.Set("Authorization", "Bearer agent-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct{ Targets []struct{ ID string } }
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range l.Targets {
		ids = append(ids, x.ID)
	}
	slices.Sort(ids)
	return ids
}

// legacyTargets writes an older release's DATA_DIR/state/targets.json.
func legacyTargets(t *testing.T, dataDir string, ids ...string) string {
	t.Helper()
	path := filepath.Join(dataDir, "state", "targets.json")
	s, err := inventory.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []target.Target
	for _, id := range ids {
		ts = append(ts, target.Target{ID: id, Sector: "energy", URL: "https://" + id + ".test/", Criticality: 2})
	}
	if _, err := s.Upsert(ts, false); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue 22: a collector upgraded over a data directory with targets.json
// keeps handing agents those targets, now read from its state database
// (SQLite, or PostgreSQL), and renames the file; two collectors on one
// PostgreSQL hand agents the same targets, an import through one seen by
// the other within its poll (inventory.DefaultPoll).
func TestImportedTargetsInState(t *testing.T) {
	t.Run("sqlite upgrade", func(t *testing.T) {
		dir := t.TempDir()
		legacy := legacyTargets(t, dir, "grid", "water")
		app := startWithState(t, dir, "")
		if got := handed(t, app); !slices.Equal(got, []string{"grid", "water"}) {
			t.Fatalf("handed %v", got)
		}
		if _, err := os.Stat(legacy + ".imported"); err != nil {
			t.Fatal(err)
		}
		app.Stop(context.Background())
		if got := handed(t, startWithState(t, dir, "")); !slices.Equal(got, []string{"grid", "water"}) {
			t.Fatalf("after a restart: %v", got)
		}
	})
	t.Run("postgres pair", func(t *testing.T) {
		dsnFile := filepath.Join(t.TempDir(), "state.dsn")
		if err := os.WriteFile(dsnFile, []byte(postgres.New(t).NewDatabase(t)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		dirA := t.TempDir()
		legacy := legacyTargets(t, dirA, "grid", "water")
		a := startWithState(t, dirA, dsnFile)
		if _, err := os.Stat(legacy + ".imported"); err != nil {
			t.Fatal(err)
		}
		b := startWithState(t, t.TempDir(), dsnFile)
		for _, app := range []*App{a, b} {
			if got := handed(t, app); !slices.Equal(got, []string{"grid", "water"}) {
				t.Fatalf("%s handed %v", app.Addr(), got)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/api/v1/targets/import?preset=bulwark",
			strings.NewReader("id,sector,url\nbank,finance,https://bank.test/\n"))
		req.Header.Set("Authorization", "Bearer op-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("import through a: HTTP %d", resp.StatusCode)
		}
		imported := time.Now()
		want := []string{"bank", "grid", "water"}
		if got := handed(t, a); !slices.Equal(got, want) {
			t.Fatalf("a handed %v", got)
		}
		// b polls every inventory.DefaultPoll; a loaded machine gets slack.
		for !slices.Equal(handed(t, b), want) {
			if time.Since(imported) > 5*inventory.DefaultPoll {
				t.Fatalf("b still hands %v %v after a's import", handed(t, b), time.Since(imported))
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("b handed a's import after %v (poll %v)", time.Since(imported).Round(time.Millisecond), inventory.DefaultPoll)
	})
}
