package depgraph

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/attrib"
)

// svc is a service whose layers each have one provider: layers maps a
// layer to "provider@jurisdiction"; a layer left out was not observed.
func svc(layers map[string]string) *Service {
	s := &Service{Target: "heat-network", Sector: "energy"}
	for _, name := range Layers() {
		p, ok := layers[name]
		if !ok {
			continue
		}
		prov, jur, _ := strings.Cut(p, "@")
		s.Layers = append(s.Layers, &Layer{Name: name, State: Domestic, Items: []Item{{Name: prov, Attr: attrib.Attribution{Provider: prov, Jurisdiction: jur}}}})
	}
	return s
}

// A probe that fails observes nothing: the next success is no drift
// (issue 20, defect 11: "before=none after=skyline@XC" every two minutes).
// A real change that persists drift_for is, once, from the first time it
// was seen; one that reverts sooner is not.
func TestDriftNotFromFailures(t *testing.T) {
	tr := NewTracker(100)
	tr.SetDriftFor(2 * time.Minute)
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ok := map[string]string{"hosting": "arcatel@XA", "subresource": "skyline@XC"}
	failed := map[string]string{"hosting": "arcatel@XA"} // a 503: no page, no subresources
	for i := range 20 {
		obs := ok
		if i%2 == 1 {
			obs = failed
		}
		if d := tr.ObserveFrom([]*Service{svc(obs)}, "home-1", "home", t0.Add(time.Duration(i)*time.Minute)); len(d) != 0 {
			t.Fatalf("step %d: drift from a failed probe: %+v", i, d)
		}
	}
	// Nothing observed at all, then the same again: no drift either.
	at := t0.Add(30 * time.Minute)
	tr.ObserveFrom([]*Service{svc(nil)}, "home-1", "home", at)
	if d := tr.ObserveFrom([]*Service{svc(ok)}, "home-1", "home", at.Add(time.Minute)); len(d) != 0 {
		t.Fatalf("drift after an empty observation: %+v", d)
	}
	// A move that reverts within drift_for is no drift; one that stays is.
	moved := map[string]string{"hosting": "arcatel@XA", "subresource": "borealis@XB"}
	at = at.Add(2 * time.Minute)
	tr.ObserveFrom([]*Service{svc(moved)}, "home-1", "home", at)
	tr.ObserveFrom([]*Service{svc(ok)}, "home-1", "home", at.Add(time.Minute))
	if d := tr.ObserveFrom([]*Service{svc(moved)}, "home-1", "home", at.Add(3*time.Minute)); len(d) != 0 {
		t.Fatalf("drift before drift_for: %+v", d)
	}
	tr.ObserveFrom([]*Service{svc(failed)}, "home-1", "home", at.Add(4*time.Minute))
	d := tr.ObserveFrom([]*Service{svc(moved)}, "home-1", "home", at.Add(5*time.Minute))
	if len(d) != 1 || d[0].Before != "skyline@XC" || d[0].After != "borealis@XB" || !d[0].FirstSeen.Equal(at.Add(3*time.Minute)) {
		t.Fatalf("drift after drift_for: %+v", d)
	}
}

// driftStep is one event of the property test.
type driftStep struct {
	at      time.Time
	restart bool
	obs     map[string]string // nil with !restart: a probe that observed nothing
}

// runDrift replays steps on a tracker, restarting it (baselines kept, as
// the state database keeps them) where asked, and returns the drift.
func runDrift(steps []driftStep, driftFor time.Duration) []Drift {
	tr := NewTracker(1 << 20)
	tr.SetDriftFor(driftFor)
	var out []Drift
	for _, s := range steps {
		if s.restart {
			next := NewTracker(1 << 20)
			next.SetDriftFor(driftFor)
			next.Seed(tr.Snapshot(), nil)
			tr = next
			continue
		}
		out = append(out, tr.ObserveFrom([]*Service{svc(s.obs)}, "a", "home", s.at)...)
	}
	return out
}

// Drift over random sequences of observations, failures and restarts:
// reported iff a real observation differs from the layer's baseline and
// every real observation agrees with it for drift_for since it was first
// seen (a restart starts the count again), layers a run did not observe
// being unknown; never from a failure, which is checked by replaying the
// sequence without its failed runs.
func TestDriftProperty(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	const driftFor = 5 * time.Minute
	provs := []string{"arcanet@XA", "cathaydns@XC", "skyline@XC"}
	layers := []string{"dns", "hosting", "subresource"}
	for round := range 300 {
		var steps, clean []driftStep
		at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		current := map[string]string{}
		for _, l := range layers {
			current[l] = provs[r.IntN(len(provs))]
		}
		for range 10 + r.IntN(60) {
			at = at.Add(time.Duration(r.IntN(4)) * time.Minute)
			switch x := r.IntN(10); {
			case x == 0:
				s := driftStep{at: at, restart: true}
				steps, clean = append(steps, s), append(clean, s)
			case x <= 2: // a failure: nothing observed (left out of the clean replay)
				steps = append(steps, driftStep{at: at, obs: map[string]string{}})
			case x == 3: // a partial failure: some layers only, each a real observation
				obs := map[string]string{}
				for _, l := range layers {
					if r.IntN(2) == 0 {
						obs[l] = current[l]
					}
				}
				s := driftStep{at: at, obs: obs}
				steps, clean = append(steps, s), append(clean, s)
			default:
				if r.IntN(4) == 0 {
					l := layers[r.IntN(len(layers))]
					current[l] = provs[r.IntN(len(provs))]
				}
				s := driftStep{at: at, obs: maps(current)}
				steps, clean = append(steps, s), append(clean, s)
			}
		}
		got := runDrift(steps, driftFor)
		if again := runDrift(clean, driftFor); !slices.EqualFunc(got, again, sameDrift) {
			t.Fatalf("round %d: failures changed the drift:\n with %+v\n without %+v", round, got, again)
		}
		if want := modelDrift(clean, layers, driftFor); !slices.EqualFunc(got, want, sameDrift) {
			t.Fatalf("round %d: drift\n got %+v\nwant %+v", round, got, want)
		}
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sameDrift(a, b Drift) bool {
	return a.Layer == b.Layer && a.Before == b.Before && a.After == b.After && a.FirstSeen.Equal(b.FirstSeen)
}

// modelDrift states the rule over the whole history of real observations:
// per layer, the first observation is the baseline; a run of observations
// that differ from it, all alike, unbroken by a restart, is drift once it
// spans driftFor.
func modelDrift(steps []driftStep, layers []string, driftFor time.Duration) []Drift {
	type run struct {
		sig   string
		since time.Time
	}
	base := map[string]string{}
	runs := map[string]*run{}
	var out []Drift
	for _, s := range steps {
		if s.restart {
			clear(runs)
			continue
		}
		for _, name := range Layers() {
			sig, ok := s.obs[name]
			if !ok || !slices.Contains(layers, name) {
				continue
			}
			switch {
			case base[name] == "":
				base[name] = sig
			case sig == base[name]:
				delete(runs, name)
			default:
				if runs[name] == nil || runs[name].sig != sig {
					runs[name] = &run{sig, s.at}
				}
				if s.at.Sub(runs[name].since) >= driftFor {
					out = append(out, Drift{Layer: name, Before: base[name], After: sig, FirstSeen: runs[name].since})
					base[name] = sig
					delete(runs, name)
				}
			}
		}
	}
	return out
}
