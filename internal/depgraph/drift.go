package depgraph

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Drift is a change of provider or jurisdiction on a layer of a service.
type Drift struct {
	Target    string    `json:"target"`
	Sector    string    `json:"sector"`
	Agent     string    `json:"agent,omitempty"` // the vantage point that saw it
	Vantage   string    `json:"vantage,omitempty"`
	Layer     string    `json:"layer"`
	Before    string    `json:"before"`
	After     string    `json:"after"`
	FromState string    `json:"from_state"`
	ToState   string    `json:"to_state"`
	FirstSeen time.Time `json:"first_seen"`
	Evidence  string    `json:"evidence"`
}

// signature is what drift compares: the providers and jurisdictions.
func signature(l *Layer) string {
	if l == nil {
		return "none"
	}
	var parts []string
	seen := map[string]bool{}
	for _, it := range l.Items {
		p := providerKey(it) + "@" + cmp.Or(it.Attr.Jurisdiction, "??")
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Tracker remembers the last graph of every service and reports drift.
//
// A layer a run did not observe (a failed probe sees no dependencies) is
// unknown, not empty: the last layer observed stands. The first
// observation of a layer is its baseline. Drift is a real observation
// that differs from the baseline and persists, every observation of the
// layer since agreeing with it, for driftFor; then it becomes the
// baseline. A change still pending is forgotten by a restart (the
// baselines are kept): it must persist driftFor again after it.
type Tracker struct {
	mu       sync.Mutex
	last     map[string]*Service
	pending  map[string]pendingChange // key + "\x00" + layer
	events   []Drift
	max      int
	driftFor time.Duration
}

// pendingChange is a layer seen different from its baseline, not yet
// for long enough.
type pendingChange struct {
	sig   string
	since time.Time
}

// NewTracker keeps at most maxEvents events in memory (oldest dropped).
// A change is drift at once (see SetDriftFor).
func NewTracker(maxEvents int) *Tracker {
	return &Tracker{last: map[string]*Service{}, pending: map[string]pendingChange{}, max: maxEvents}
}

// SetDriftFor sets how long a change must persist before it is drift.
func (t *Tracker) SetDriftFor(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.driftFor = d
}

// Seed sets the last known graphs (after a restart) without events.
func (t *Tracker) Seed(last map[string]*Service, events []Drift) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range last {
		t.last[k] = s
	}
	t.events = append(t.events, events...)
}

// Snapshot returns every graph kept, by key (target, or target@agent).
func (t *Tracker) Snapshot() map[string]*Service {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]*Service, len(t.last))
	for k, s := range t.last {
		out[k] = s
	}
	return out
}

// Set replaces the merged graphs (of all vantage points) without drift.
func (t *Tracker) Set(services []*Service) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range services {
		t.last[s.Target] = s
	}
}

// Observe compares new graphs with the last ones and returns the drift.
// A service seen for the first time is not drift.
func (t *Tracker) Observe(services []*Service, at time.Time) []Drift {
	return t.ObserveFrom(services, "", "", at)
}

// ObserveFrom is Observe for the graphs seen by one agent: each vantage
// point's view changes once when a service moves, whatever the others
// have seen yet.
func (t *Tracker) ObserveFrom(services []*Service, agent, vantage string, at time.Time) []Drift {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Drift
	for _, s := range services {
		k := s.Target
		if agent != "" {
			k += "@" + agent
		}
		prev := t.last[k]
		kept := &Service{Target: s.Target, Sector: s.Sector, Score: s.Score, WorstLayer: s.WorstLayer, WorstState: s.WorstState}
		for _, name := range layerOrder {
			var base *Layer
			if prev != nil {
				base = prev.Layer(name)
			}
			l, d := t.observeLayer(k, s, name, base, agent, vantage, at)
			if l != nil {
				kept.Layers = append(kept.Layers, l)
			}
			if d != nil {
				out = append(out, *d)
			}
		}
		t.last[k] = kept
	}
	t.events = append(t.events, out...)
	if len(t.events) > t.max {
		t.events = t.events[len(t.events)-t.max:]
	}
	return out
}

// observeLayer compares one layer of s with its baseline: the layer to
// keep as the baseline, and the drift when a change has persisted.
func (t *Tracker) observeLayer(k string, s *Service, name string, base *Layer, agent, vantage string, at time.Time) (*Layer, *Drift) {
	pk := k + "\x00" + name
	cur := s.Layer(name)
	switch {
	case cur == nil:
		return base, nil // not observed this time: unknown, not a change
	case base == nil:
		delete(t.pending, pk) // first sight: the baseline
		return cur, nil
	}
	sb, sa := signature(base), signature(cur)
	if sb == sa {
		delete(t.pending, pk)
		return cur, nil
	}
	p, ok := t.pending[pk]
	if !ok || p.sig != sa {
		p = pendingChange{sig: sa, since: at}
		t.pending[pk] = p
	}
	if at.Sub(p.since) < t.driftFor {
		return base, nil
	}
	delete(t.pending, pk)
	return cur, &Drift{Target: s.Target, Sector: s.Sector, Agent: agent, Vantage: vantage, Layer: name, Before: sb, After: sa, FirstSeen: p.since,
		FromState: base.State, ToState: cur.State,
		Evidence: fmt.Sprintf("%s changed from %s to %s; now %s", name, sb, sa, cur.Evidence)}
}

// Events returns drift events, newest first, optionally for one target.
func (t *Tracker) Events(target string) []Drift {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Drift
	for _, e := range t.events {
		if target == "" || e.Target == target {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Drift) int { return cmp.Compare(b.FirstSeen.UnixNano(), a.FirstSeen.UnixNano()) })
	return out
}

// Services returns the last graph of every service, by target.
func (t *Tracker) Services() []*Service {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Service, 0, len(t.last))
	for k, s := range t.last {
		if !strings.Contains(k, "@") {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Service) int { return cmp.Compare(a.Target, b.Target) })
	return out
}
