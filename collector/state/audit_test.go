package state

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

// Issue 11: the audit log is hash-chained, also across a database written
// before the chain existed: its rows are chained when it is opened, and
// later entries follow on.
func TestAuditChain(t *testing.T) { eachDriver(t, testAuditChain) }

func testAuditChain(t *testing.T, o Options) {
	// A database of the previous format: an audit table without the chain.
	raw, dia := rawDB(t, o)
	table := `CREATE TABLE audit (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)`
	if dia.name == Postgres {
		table = `CREATE TABLE audit (id BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, "user" TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)`
	}
	if _, err := raw.Exec(table); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO audit (id, at_ms, "user", action, detail) VALUES (1, 1764158400000, 'otto', 'silence', '{"id":"a"}'), (2, 1764158460000, 'otto', 'acknowledge', '{"group":"g"}')`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db := mustOpen(t, o)
	ctx := context.Background()
	if err := db.Audit(ctx, "ada", "expire-silence", map[string]string{"id": "a"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = mustOpen(t, o) // reopened: nothing chained twice
	chain, err := db.AuditChain(ctx)
	if err != nil || len(chain) != 3 {
		t.Fatalf("chain: %v %d entries", err, len(chain))
	}
	key, _ := audit.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err := audit.Verify(audit.Sign(chain, key, time.Now()), nil); err != nil {
		t.Errorf("the migrated and extended log does not verify: %v", err)
	}
	if chain[0].User != "otto" || chain[2].Action != "expire-silence" || chain[2].Prev != chain[1].Hash {
		t.Errorf("chain %+v", chain)
	}
}

// Playbook runs are kept whole, timeline included, and read back.
func TestRunsRoundTrip(t *testing.T) { eachDriver(t, testRunsRoundTrip) }

func testRunsRoundTrip(t *testing.T, o Options) {
	db := mustOpen(t, o)
	ctx := context.Background()
	run := &runner.Run{ID: "renew-1", Playbook: "renew", State: runner.Waiting, Started: time.Now().UTC(),
		Wait: &runner.Wait{Step: "checks", Kind: "checklist", Items: []string{"a", "b"}, Ticked: map[string]string{"a": "otto"}}}
	for range 2 { // saved twice: one row
		if err := db.SaveRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := db.LoadRuns(ctx)
	if err != nil || len(runs) != 1 || runs[0].Wait.Ticked["a"] != "otto" {
		t.Fatalf("runs %v %+v", err, runs)
	}
}
