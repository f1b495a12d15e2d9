package alerting

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

// keyRecorder keeps the group keys it was given.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *keyRecorder) Notify(_ context.Context, n *Notification) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, n.GroupKey)
	return false, nil
}

func (r *keyRecorder) sent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys)
}

func parseRoutes(t *testing.T, yml string) []Route {
	t.Helper()
	var routes []Route
	dec := yaml.NewDecoder(strings.NewReader(yml))
	dec.KnownFields(true)
	if err := dec.Decode(&routes); err != nil {
		t.Fatalf("%s: %v", yml, err)
	}
	return routes
}

// Issue 20, defect 6: a route inserted before the one an open incident
// took (a configuration reload mid-incident) leaves the incident's key as
// it was, so it is not paged again and its acknowledgement holds.
func TestRouteInsertedMidIncidentDoesNotRepage(t *testing.T) {
	before := `
- receiver: duty
  group_by: [classification]
  routes:
    - match: {sector: energy}
      receiver: energy
`
	after := `
- receiver: duty
  group_by: [classification]
  routes:
    - matchers: ['sector="finance"']
      receiver: finance
    - match: {sector: energy}
      receiver: energy
`
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	log := &MemLog{}
	rcv := &keyRecorder{}
	receivers := map[string]Receiver{"duty": rcv, "energy": rcv, "finance": rcv}
	sil, err := NewSilencer(context.Background(), &MemSilenceStore{}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	alert := down("grid-portal", now)
	alert.Labels = labels.NewBuilder(alert.Labels).Set("sector", "energy").Labels()
	var keys []string
	for i, yml := range []string{before, after} {
		d, err := NewDispatcher(DispatcherOptions{Routes: parseRoutes(t, yml), Receivers: receivers, Log: log, Silencer: sil,
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		d.Add([]*Alert{alert})
		now = now.Add(31 * time.Second)
		d.FlushDue(context.Background())
		in := d.Incidents()
		if len(in) != 1 {
			t.Fatalf("config %d: %d incidents", i, len(in))
		}
		keys = append(keys, in[0].GroupKey)
		if i == 0 {
			if _, err := sil.Acknowledge(context.Background(), in[0].GroupKey, "otto", "on it", true); err != nil {
				t.Fatal(err)
			}
		} else if in[0].Ack == nil {
			t.Error("the acknowledgement was lost with the new configuration")
		}
	}
	if keys[0] != keys[1] {
		t.Errorf("the incident's key changed with an unrelated route: %q then %q", keys[0], keys[1])
	}
	if got := rcv.sent(); len(got) != 1 {
		t.Errorf("paged %d times, want once: %q", len(got), got)
	}
	if want := `{}/{sector="energy"}/energy:{classification="down-everywhere"}`; keys[0] != want {
		t.Errorf("key %q, want %q", keys[0], want)
	}
}

// Property (defect 6): for random alerts and random routing trees, the
// group keys an alert gets do not change when a sibling route that does
// not take it is inserted anywhere in the tree.
func TestRouteKeyStableUnderSiblingInsert(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	names := []string{"sector", "severity", "criticality", "classification"}
	values := []string{"energy", "finance", "page", "1", "2", "down-everywhere", ""}
	randMatchers := func() Matchers {
		var out Matchers
		for range rng.IntN(3) {
			ops := []string{"=", "!=", "=~", "!~"}
			m, err := ParseMatchers(fmt.Sprintf("%s%s%q", names[rng.IntN(len(names))], ops[rng.IntN(len(ops))], values[rng.IntN(len(values))]))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m...)
		}
		return out
	}
	var randTree func(depth int) []Route
	randTree = func(depth int) []Route {
		var out []Route
		for range rng.IntN(4) {
			r := Route{Matchers: randMatchers(), Continue: rng.IntN(3) == 0, Receiver: []string{"", "a", "b"}[rng.IntN(3)]}
			if depth < 3 {
				r.Routes = randTree(depth + 1)
			}
			out = append(out, r)
		}
		return out
	}
	keysOf := func(routes []Route, ls labels.Labels) []string {
		p, err := PrepareRoutes(routes, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range matchRoutes(p, ls) {
			out = append(out, groupKey(r.id, r.Receiver, r.groupLabels(ls)))
		}
		return out
	}
	for step := range 500 {
		tree := []Route{{Receiver: "root", Routes: randTree(0)}}
		var kv []string
		for _, n := range names {
			if v := values[rng.IntN(len(values))]; v != "" {
				kv = append(kv, n, v)
			}
		}
		ls := labels.FromStrings(append(kv, "alertname", "X")...)
		want := keysOf(tree, ls)
		// Insert a sibling that cannot take the alert (a label it lacks) at a random place.
		grown := cloneRoutes(tree)
		level := &grown[0].Routes
		for len(*level) > 0 && rng.IntN(2) == 0 {
			level = &(*level)[rng.IntN(len(*level))].Routes
		}
		at := rng.IntN(len(*level) + 1)
		extra := Route{Receiver: "b", Matchers: Matchers{mustMatcher(t, fmt.Sprintf(`unrelated="%d"`, step))}}
		*level = slices.Insert(*level, at, extra)
		if got := keysOf(grown, ls); !slices.Equal(got, want) {
			t.Fatalf("step %d: keys %q became %q after inserting a sibling", step, want, got)
		}
	}
}

func cloneRoutes(rs []Route) []Route {
	out := slices.Clone(rs)
	for i := range out {
		out[i].Routes = cloneRoutes(out[i].Routes)
	}
	return out
}

func mustMatcher(t *testing.T, s string) *amlabels.Matcher {
	t.Helper()
	ms, err := ParseMatchers(s)
	if err != nil || len(ms) != 1 {
		t.Fatalf("%s: %v", s, err)
	}
	return ms[0]
}

// Issue 20, defect 7: an alert no route takes is counted, not dropped
// silently.
func TestUnroutedAlertsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	d, err := NewDispatcher(DispatcherOptions{Routes: parseRoutes(t, "- {receiver: energy, match: {sector: energy}}"),
		Receivers: map[string]Receiver{"energy": &keyRecorder{}}, Log: &MemLog{}, Registerer: reg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	finance := down("bank", now)
	finance.Labels = labels.NewBuilder(finance.Labels).Set("sector", "finance").Labels()
	energy := down("grid", now)
	energy.Labels = labels.NewBuilder(energy.Labels).Set("sector", "energy").Labels()
	d.Add([]*Alert{finance, energy})
	if got := testutil.ToFloat64(d.unrouted); got != 1 {
		t.Errorf("bulwark_alerts_unrouted_total = %v, want 1", got)
	}
	if err := CheckCatchAll(parseRoutes(t, "- {receiver: energy, match: {sector: energy}}")); !errors.Is(err, ErrMayDrop) {
		t.Errorf("a tree without a catch-all: %v", err)
	}
	if err := CheckCatchAll(parseRoutes(t, "- {receiver: energy, match: {sector: energy}}\n- {receiver: rest}")); err != nil {
		t.Errorf("a tree with a catch-all: %v", err)
	}
}

// Issue 20, defect 13: group_wait: 0s is zero, not the 30s default: the
// first notification goes at once (and a child that sets nothing inherits
// the zero).
func TestZeroGroupWaitSendsAtOnce(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	rcv := &keyRecorder{}
	d, err := NewDispatcher(DispatcherOptions{Routes: parseRoutes(t, "- receiver: duty\n  group_wait: 0s\n  routes: [{match: {severity: page}}]"),
		Receivers: map[string]Receiver{"duty": rcv}, Log: &MemLog{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	d.Add([]*Alert{down("grid-portal", now)})
	d.FlushDue(context.Background()) // no time has passed
	if got := rcv.sent(); len(got) != 1 || !strings.HasPrefix(got[0], `{}/{severity="page"}/duty:`) {
		t.Fatalf("group_wait 0s: sent %q at once, want one notification", got)
	}
	// Unset still means the default.
	p, err := PrepareRoutes(parseRoutes(t, "- receiver: duty"), nil)
	if err != nil || time.Duration(p[0].GroupWait) != 30*time.Second {
		t.Errorf("unset group_wait: %v %v", p, err)
	}
}
