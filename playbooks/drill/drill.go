// Package drill runs failover drills: a drill names a cut (a country, a
// provider, an AS or address ranges), predicts its impact with the
// what-if, hands the agents the cut-set they enforce (internal/cutset),
// and keeps the record a report is made from. One drill runs at a time:
// agents hold one cut, and two overlapping scenarios would measure neither.
package drill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/internal/cutset"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// Drill is the record of one drill.
type Drill struct {
	ID       string       `json:"id"`
	Scenario string       `json:"scenario"`
	Cut      depgraph.Cut `json:"cut"`
	// Set is what the agents enforce.
	Set *cutset.Cut `json:"set"`
	// Prediction is the what-if answer at the start.
	Prediction *depgraph.WhatIf `json:"prediction"`
	// Playbooks run in drill mode at the start; Runs are their run ids.
	Playbooks []string  `json:"playbooks,omitempty"`
	Runs      []string  `json:"runs,omitempty"`
	StartedBy string    `json:"started_by"`
	Started   time.Time `json:"started"`
	Ends      time.Time `json:"ends"`
	// Ended is zero while the drill runs; EndedBy is who stopped it, or
	// "schedule" when it ran its time.
	Ended   time.Time `json:"ended,omitzero"`
	EndedBy string    `json:"ended_by,omitempty"`
	// Agents records when each agent first fetched the cut-set (it
	// enforces it from then on).
	Agents map[string]time.Time `json:"agents,omitempty"`
}

// Running reports whether d is in force at now.
func (d *Drill) Running(now time.Time) bool { return d.Ended.IsZero() && now.Before(d.Ends) }

// Store keeps drills (the state database).
type Store interface {
	SaveDrill(ctx context.Context, d *Drill) error
	LoadDrills(ctx context.Context) ([]*Drill, error)
}

// Planner predicts a cut's impact and builds the cut-set the agents
// enforce (the collector does it from the dependency graphs).
type Planner func(cut depgraph.Cut) (*depgraph.WhatIf, *cutset.Cut, error)

// Options configure a Manager.
type Options struct {
	Store  Store
	Plan   Planner
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Manager starts, ends and keeps drills.
type Manager struct {
	opts Options

	mu     sync.Mutex
	drills map[string]*Drill
	// changed is closed, and replaced, when the drill in force changes:
	// agents waiting in a long poll learn it at once.
	changed chan struct{}
}

// Errors a caller maps to HTTP answers.
var (
	ErrRunning  = errors.New("another drill is running")
	ErrNotFound = errors.New("no such drill")
	ErrEnded    = errors.New("the drill has ended")
)

// Open loads the drills kept in the store. A drill whose time ran out
// while the collector was down is closed as ended on schedule.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Plan == nil {
		return nil, errors.New("drill: Store and Plan are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ds, err := opts.Store.LoadDrills(ctx)
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	m := &Manager{opts: opts, drills: map[string]*Drill{}, changed: make(chan struct{})}
	for _, d := range ds {
		m.drills[d.ID] = d
	}
	return m, m.Expire(ctx)
}

// Request is what a drill is started with.
type Request struct {
	Cut       depgraph.Cut `json:"cut"`
	Duration  time.Duration
	Playbooks []string `json:"playbooks,omitempty"`
}

// Start plans and records a drill; the agents take its cut-set at their
// next poll.
func (m *Manager) Start(ctx context.Context, req Request, actor string) (*Drill, error) {
	if req.Duration <= 0 || req.Duration > cutset.MaxDuration {
		return nil, fmt.Errorf("drill: duration %s: want more than 0 and at most %s", req.Duration, cutset.MaxDuration)
	}
	if req.Cut.Empty() {
		return nil, errors.New("drill: name what is cut: country, provider, asn or cidr")
	}
	pred, set, err := m.opts.Plan(req.Cut)
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	for _, d := range m.drills {
		if d.Running(now) {
			return nil, fmt.Errorf("drill: %w: %s (%s) until %s", ErrRunning, d.ID, d.Scenario, d.Ends.Format(time.RFC3339))
		}
	}
	id := newID(now)
	set.ID, set.Scenario, set.Starts, set.Expires = id, req.Cut.String(), now, now.Add(req.Duration)
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("drill: %w (the graphs hold no dependency inside this cut yet)", err)
	}
	set.Compile()
	d := &Drill{ID: id, Scenario: set.Scenario, Cut: req.Cut, Set: set, Prediction: pred, Playbooks: req.Playbooks,
		StartedBy: actor, Started: now, Ends: set.Expires, Agents: map[string]time.Time{}}
	if err := m.opts.Store.SaveDrill(ctx, d); err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	m.drills[id] = d
	m.notify()
	m.opts.Logger.Info("drill started", "drill", id, "scenario", d.Scenario, "until", d.Ends.Format(time.RFC3339),
		"prefixes", len(set.Prefixes), "names", len(set.Names), "by", actor)
	return clone(d), nil
}

func newID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return "drill-" + now.UTC().Format("20060102-1504") + "-" + hex.EncodeToString(b[:])
}

// Stop ends a running drill now; the agents drop the cut at their next poll.
func (m *Manager) Stop(ctx context.Context, id, actor string) (*Drill, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drills[id]
	if !ok {
		return nil, fmt.Errorf("drill %s: %w", id, ErrNotFound)
	}
	now := m.opts.Now()
	if !d.Running(now) {
		return nil, fmt.Errorf("drill %s: %w", id, ErrEnded)
	}
	d.Ended, d.EndedBy = now, actor
	m.notify()
	if err := m.opts.Store.SaveDrill(ctx, d); err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	m.opts.Logger.Info("drill stopped", "drill", id, "by", actor)
	return clone(d), nil
}

// Expire closes the drills whose time has run out.
func (m *Manager) Expire(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	var errs []error
	for _, d := range m.drills {
		if d.Ended.IsZero() && !now.Before(d.Ends) {
			d.Ended, d.EndedBy = d.Ends, "schedule"
			m.notify()
			errs = append(errs, m.opts.Store.SaveDrill(ctx, d))
			m.opts.Logger.Info("drill ended on schedule", "drill", d.ID)
		}
	}
	return errors.Join(errs...)
}

// notify wakes the long polls (m.mu held).
func (m *Manager) notify() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// WaitChange returns once the drill in force is not known (its id, ""
// for none), or when ctx ends: an agent's long poll.
func (m *Manager) WaitChange(ctx context.Context, known string) {
	for {
		m.mu.Lock()
		cur, ch := "", m.changed
		now := m.opts.Now()
		for _, d := range m.drills {
			if d.Running(now) {
				cur = d.ID
			}
		}
		m.mu.Unlock()
		if cur != known {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Active returns the cut-set in force for agent, or nil, and notes the
// agent's first fetch.
func (m *Manager) Active(ctx context.Context, agent string) *cutset.Cut {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	for _, d := range m.drills {
		if !d.Running(now) {
			continue
		}
		if _, seen := d.Agents[agent]; !seen && agent != "" {
			d.Agents[agent] = now
			if err := m.opts.Store.SaveDrill(ctx, d); err != nil {
				m.opts.Logger.Warn("cannot record an agent's fetch of the drill", "drill", d.ID, "agent", agent, "err", err)
			}
		}
		return d.Set
	}
	return nil
}

// AddRun records a playbook run started for drill id.
func (m *Manager) AddRun(ctx context.Context, id, run string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drills[id]
	if !ok {
		return fmt.Errorf("drill %s: %w", id, ErrNotFound)
	}
	d.Runs = append(d.Runs, run)
	return m.opts.Store.SaveDrill(ctx, d)
}

// Get returns a copy of the drill with that id.
func (m *Manager) Get(id string) (*Drill, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drills[id]
	if !ok {
		return nil, false
	}
	return clone(d), true
}

// Known reports whether samples labelled drill=id at ts may be accepted:
// the drill exists and ts falls within it. An agent's queue may deliver
// them late, but their timestamps are when they were probed.
func (m *Manager) Known(id string, ts time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.drills[id]
	if !ok {
		return false
	}
	end := d.Ends
	if !d.Ended.IsZero() && d.Ended.Before(end) {
		end = d.Ended
	}
	// Agents enforce the cut by their own clocks: allow them a minute's skew.
	return !ts.Before(d.Started.Add(-time.Minute)) && ts.Before(end.Add(time.Minute))
}

// List returns every drill, newest first, without their cut-sets.
func (m *Manager) List() []*Drill {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Drill, 0, len(m.drills))
	for _, d := range m.drills {
		c := clone(d)
		c.Set, c.Prediction = nil, nil
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Drill) int { return b.Started.Compare(a.Started) })
	return out
}

func clone(d *Drill) *Drill {
	c := *d
	c.Agents = make(map[string]time.Time, len(d.Agents))
	for k, v := range d.Agents {
		c.Agents[k] = v
	}
	c.Runs = slices.Clone(d.Runs)
	return &c
}
