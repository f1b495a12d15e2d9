package zone

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bulwarkhq/bulwark/internal/attrib"
)

// A property test of the report cache over random sequences of zone
// imports, target imports, catalog reloads, new resolutions by agents,
// restarts (a new cache) and bursts of concurrent viewers: every answer is
// the report Analyze makes of the inputs of that moment, and each change
// seen by a viewer costs one computation, however many viewers.
func TestReportCacheProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	cat, _ := attrib.LoadCatalog()
	st := NewStore(t.TempDir())
	snap := genSnapshot(300)
	snap.Exported = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	st.Save(snap)
	a := &attrib.Attributor{Catalog: cat}
	in := &inputs{}
	rs := newReports(t, st, a, in)
	builds, changed := 0.0, true // a new cache computes on its first request
	pol := &attrib.Policy{Home: "US"}
	for step := range 60 {
		switch ev := rng.IntN(6); ev {
		case 0: // zone import: a later export, some delegations gone
			snap.Exported = snap.Exported.Add(time.Hour)
			k := rng.IntN(len(snap.Delegations))
			snap.Delegations = append(snap.Delegations[:k:k], snap.Delegations[k+1:]...)
			if _, err := st.Save(snap); err != nil {
				t.Fatal(err)
			}
			changed = true
		case 1: // target import
			types := map[string]string{}
			for range 20 {
				types[fmt.Sprintf("d%07d.nation", rng.IntN(300))] = []string{"City", "County", "State"}[rng.IntN(3)]
			}
			in.types.Store(&types)
			in.typesV.Add(1)
			changed = true
		case 2: // catalog reload
			c, _ := attrib.LoadCatalog()
			a.SetCatalog(c)
			changed = true
		case 3: // agents resolved name servers
			res := map[string][]string{}
			for range 5 {
				res[fmt.Sprintf("ns%d.hosting%d.example", 1+rng.IntN(2), rng.IntN(500))] = []string{fmt.Sprintf("192.0.2.%d", 1+rng.IntN(250))}
			}
			in.resolved.Store(&res)
			in.resV.Add(1)
			changed = true
		case 4: // restart
			rs = newReports(t, st, a, in)
			builds, changed = 0, true
		case 5: // viewers, 1 to 8 at once
			types, res := *in.types.Load(), *in.resolved.Load()
			latest, _, err := st.Latest("nation.")
			if err != nil {
				t.Fatal(err)
			}
			want := AnalyzeWith(latest, a, pol, types, func(n string) []string { return res[strings.TrimSuffix(n, ".")] }).Report(false)
			wantJSON, _ := json.Marshal(want)
			var wg sync.WaitGroup
			for range 1 + rng.IntN(8) {
				wg.Go(func() {
					got, err := rs.Get(context.Background(), "nation.")
					if err != nil {
						t.Errorf("step %d: %v", step, err)
						return
					}
					if b, _ := json.Marshal(got); !bytes.Equal(b, wantJSON) {
						t.Errorf("step %d: the report is not of the inputs of the moment", step)
					}
				})
			}
			wg.Wait()
			if changed {
				builds++
				changed = false
			}
			if got := testutil.ToFloat64(rs.builds); got != builds {
				t.Fatalf("step %d: %v computations, want %v", step, got, builds)
			}
		}
	}
}

// A computation superseded while it waits its turn (the inputs changed
// meanwhile) is not made: its viewers take the newer report.
func TestReportSupersededNotComputed(t *testing.T) {
	cat, _ := attrib.LoadCatalog()
	st := NewStore(t.TempDir())
	st.Save(genSnapshot(200))
	in := &inputs{}
	rs := newReports(t, st, &attrib.Attributor{Catalog: cat}, in)
	rs.buildSlot <- struct{}{} // another zone's report is being computed
	first := make(chan *Report)
	go func() {
		r, err := rs.Get(context.Background(), "nation.")
		if err != nil {
			t.Error(err)
		}
		first <- r
	}()
	for { // wait until the first request's computation is queued
		rs.mu.Lock()
		n := len(rs.entries)
		rs.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	in.types.Store(&map[string]string{"d0000001.nation": "City"})
	in.typesV.Add(1)
	second := make(chan *Report)
	go func() {
		r, _ := rs.Get(context.Background(), "nation.")
		second <- r
	}()
	for {
		rs.mu.Lock()
		e := rs.entries["nation."]
		rs.mu.Unlock()
		if e.key.types == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	<-rs.buildSlot
	r1, r2 := <-first, <-second
	if r1 != r2 || r1 == nil || r1.Types[len(r1.Types)-1].Type != "City" {
		t.Fatalf("the first request got %p, the second %p: want the newer report for both", r1, r2)
	}
	if n := testutil.ToFloat64(rs.builds); n != 1 {
		t.Errorf("%v computations, want 1", n)
	}
}
