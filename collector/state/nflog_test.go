package state

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
)

// The notification log survives a restart: what was sent stays known.
func TestNotificationLogSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bulwark.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := alerting.LogEntry{FiringHash: [32]byte{1, 2, 3}, ResolvedHash: [32]byte{9}, SentAt: time.UnixMilli(1_764_158_400_000), Thread: "1700000000.000001",
		Since: time.UnixMilli(1_764_158_000_000)}
	if err := db.Put(ctx, "duty", `0/duty:{classification="down-everywhere"}`, e); err != nil {
		t.Fatal(err)
	}
	e.Thread = "1700000000.000002"
	if err := db.Put(ctx, "duty", `0/duty:{classification="down-everywhere"}`, e); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, ok, err := db.Get(ctx, "duty", `0/duty:{classification="down-everywhere"}`)
	if err != nil || !ok || got != e {
		t.Fatalf("after reopen: %+v %v %v, want %+v", got, ok, err, e)
	}
	if _, ok, _ := db.Get(ctx, "duty", "other"); ok {
		t.Fatal("an unknown group is known")
	}
}
