package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// saveTargets writes ts as the version after base.
func saveTargets(ctx context.Context, db *DB, base uint64, ts ...target.Target) error {
	_, err := db.SaveTargets(ctx, base, ts)
	return err
}

// Issue 22: imported targets live in the state database, on both
// drivers: each write is one version, read back whole or since a
// version; a write over a version it did not read is refused whole.
func TestTargetsVersions(t *testing.T) {
	eachDriver(t, func(t *testing.T, o Options) {
		ctx := context.Background()
		db := mustOpen(t, o)
		if v, err := db.TargetsVersion(ctx); err != nil || v != 0 {
			t.Fatalf("fresh: version %d %v", v, err)
		}
		var ts []target.Target
		for i := range 2*targetsBatch + 7 { // more than one insert batch
			ts = append(ts, target.Target{ID: fmt.Sprintf("t-%04d", i), Sector: "energy", URL: fmt.Sprintf("https://t%d.test/", i)})
		}
		v, err := db.SaveTargets(ctx, 0, ts)
		if err != nil || v != 1 {
			t.Fatalf("first import: %d %v", v, err)
		}
		changed := target.Target{ID: "t-0003", Name: "Renamed", Sector: "energy", URL: "https://t3.test/"}
		if v, err = db.SaveTargets(ctx, 1, []target.Target{changed, {ID: "new", Sector: "finance"}}); err != nil || v != 2 {
			t.Fatalf("second import: %d %v", v, err)
		}
		if _, err := db.SaveTargets(ctx, 1, []target.Target{{ID: "stale", Sector: "energy"}}); !errors.Is(err, ErrTargetsChanged) {
			t.Fatalf("a write over an unread version: %v", err)
		}
		all, v, err := db.TargetsSince(ctx, 0)
		if err != nil || v != 2 || len(all) != len(ts)+1 {
			t.Fatalf("all: %d targets at %d, %v", len(all), v, err)
		}
		since, v, err := db.TargetsSince(ctx, 1)
		slices.SortFunc(since, func(a, b target.Target) int { return strings.Compare(a.ID, b.ID) })
		if err != nil || v != 2 || len(since) != 2 || since[0].ID != "new" || since[1].Name != "Renamed" {
			t.Fatalf("since 1: %+v at %d, %v", since, v, err)
		}
		if v, _ := db.TargetsVersion(ctx); v != 2 {
			t.Fatalf("the refused write moved the version to %d", v)
		}
	})
}
