package inventory

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// Random sequences of imports (dry runs included, ids overlapping, some
// rows repeated within one file) through three collectors on one
// database, polls, and restarts of a collector: each import's diff is
// the one against every import before it, whichever collector took it;
// a collector that polled holds exactly what was imported; versions never
// go back.
func TestStoresPropertyRandomImports(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() *state.DB) {
		ctx := context.Background()
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		r := rand.New(rand.NewPCG(seed, 0))
		var stores [3]*Store
		for i := range stores {
			s, err := New(ctx, Options{DB: open()})
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
		model := map[string]target.Target{}
		var last [3]uint64
		for step := range 120 {
			i := r.IntN(len(stores))
			switch op := r.IntN(10); {
			case op < 6: // an import, sometimes a dry run
				var ts []target.Target
				for range 1 + r.IntN(8) {
					id := fmt.Sprintf("t-%02d", r.IntN(30))
					ts = append(ts, target.Target{ID: id, Sector: "energy", Name: fmt.Sprint("n", r.IntN(3))})
				}
				dry := r.IntN(4) == 0
				want, next := modelDiff(model, ts)
				got, err := stores[i].Upsert(ts, dry)
				if err != nil {
					t.Fatalf("step %d: import through %d: %v", step, i, err)
				}
				if len(got.Added) != len(want.Added) || len(got.Changed) != len(want.Changed) || got.Unchanged != want.Unchanged {
					t.Fatalf("step %d: import through %d (dry %v): diff %v, want %v", step, i, dry, got, want)
				}
				if !dry {
					model = next
				}
			case op < 9:
				if _, err := stores[i].Refresh(ctx); err != nil {
					t.Fatalf("step %d: refresh %d: %v", step, i, err)
				}
				if got := stores[i].Targets(); !reflect.DeepEqual(got, sorted(model)) && !(len(got) == 0 && len(model) == 0) {
					t.Fatalf("step %d: collector %d holds %d targets, %d imported", step, i, len(got), len(model))
				}
			default: // a restart
				s, err := New(ctx, Options{DB: open()})
				if err != nil {
					t.Fatalf("step %d: restart %d: %v", step, i, err)
				}
				stores[i] = s
			}
			if v := stores[i].Version(); v < last[i] {
				t.Fatalf("step %d: collector %d's version went from %d to %d", step, i, last[i], v)
			} else {
				last[i] = v
			}
		}
	})
}

// modelDiff is what importing ts over m changes, and m afterwards.
func modelDiff(m map[string]target.Target, ts []target.Target) (Diff, map[string]target.Target) {
	next := maps.Clone(m)
	var d Diff
	for _, t := range ts {
		old, ok := next[t.ID]
		switch {
		case !ok:
			d.Added = append(d.Added, t.ID)
		case reflect.DeepEqual(old, t):
			d.Unchanged++
			continue
		default:
			d.Changed = append(d.Changed, t.ID)
		}
		next[t.ID] = t
	}
	return d, next
}

// Imports through two collectors at the same moment are applied one after
// the other: each lands whole, none is lost (the one that loses the race
// reads the other's rows and tries again).
func TestConcurrentImportsAllLand(t *testing.T) {
	eachDriver(t, func(t *testing.T, open func() *state.DB) {
		ctx := context.Background()
		const rounds = 10
		errs := make(chan error, 2*rounds)
		var stores [2]*Store
		for i := range stores {
			s, err := New(ctx, Options{DB: open()})
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
		for i, s := range stores {
			go func() {
				for n := range rounds {
					_, err := s.Upsert([]target.Target{{ID: fmt.Sprintf("c%d-%d", i, n), Sector: "energy"}}, false)
					errs <- err
				}
			}()
		}
		for range 2 * rounds {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range stores {
			if _, err := s.Refresh(ctx); err != nil || len(s.Targets()) != 2*rounds || s.Version() != 2*rounds {
				t.Fatalf("collector %d: %v, %d targets at version %d", i, err, len(s.Targets()), s.Version())
			}
		}
	})
}
