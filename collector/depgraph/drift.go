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
type Tracker struct {
	mu     sync.Mutex
	last   map[string]*Service
	events []Drift
	max    int
}

// NewTracker keeps at most maxEvents events in memory (oldest dropped).
func NewTracker(maxEvents int) *Tracker {
	return &Tracker{last: map[string]*Service{}, max: maxEvents}
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
		prev, ok := t.last[k]
		t.last[k] = s
		if !ok {
			continue
		}
		for _, name := range Layers {
			before, after := prev.Layer(name), s.Layer(name)
			if after == nil {
				continue // not observed this time: not a change
			}
			sb, sa := signature(before), signature(after)
			if sb == sa {
				continue
			}
			d := Drift{Target: s.Target, Sector: s.Sector, Agent: agent, Vantage: vantage, Layer: name, Before: sb, After: sa, FirstSeen: at,
				FromState: stateOf(before), ToState: after.State,
				Evidence: fmt.Sprintf("%s changed from %s to %s; now %s", name, sb, sa, after.Evidence)}
			out = append(out, d)
		}
	}
	t.events = append(t.events, out...)
	if len(t.events) > t.max {
		t.events = t.events[len(t.events)-t.max:]
	}
	return out
}

func stateOf(l *Layer) string {
	if l == nil {
		return "none"
	}
	return l.State
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
