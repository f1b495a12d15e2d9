package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// DispatcherOptions configure a Dispatcher.
type DispatcherOptions struct {
	Routes    []Route
	Receivers map[string]Receiver
	Log       Log
	// Cause, when set, finds the dependency the given services share.
	Cause func(targets []string) *Cause
	// Silencer, when set, mutes silenced alerts and holds acknowledgements.
	Silencer *Silencer
	// InhibitRules mute alerts implied by others (nil: DefaultInhibitRules;
	// empty: none).
	InhibitRules []InhibitRule
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	// Now is the clock (default time.Now); Tick how often groups are
	// checked for a due notification (default 250ms).
	Now  func() time.Time
	Tick time.Duration
	// Concurrency bounds the groups flushed at once (default 32): each
	// group flushes on its own, so one hung receiver holds only its own.
	Concurrency int
	// Retention is how long the notification log keeps a group no longer
	// held, and the silencer an expired silence (default 120h, as
	// Alertmanager); GCInterval how often they are collected (default 15m;
	// negative: never, for a second dispatcher over the same log, which
	// would take the first's groups for gone).
	Retention  time.Duration
	GCInterval time.Duration
	// RetryInitial is the first wait before a failed send is tried again
	// (default 500ms); the waits double, with jitter, until the send's
	// deadline.
	RetryInitial time.Duration
}

// Dispatcher routes alerts into groups and notifies each group's receiver
// when the group is due.
type Dispatcher struct {
	opts    DispatcherOptions
	sent    *prometheus.CounterVec
	failed  *prometheus.CounterVec
	latency *prometheus.HistogramVec
	// unrouted counts firing alerts no route took (a tree with a catch-all never has any).
	unrouted prometheus.Counter

	wake chan struct{} // a group was added: Run recomputes when the next is due
	sem  chan struct{} // bounds the flushes in flight

	mu       sync.Mutex
	groups   map[string]*group
	lastTick time.Time // when Run last looked for due groups
	lastGC   time.Time
}

type group struct {
	key    string
	route  *Route
	labels map[string]string
	alerts map[uint64]*Alert
	next   time.Time // when it is due
	// flushing is when its flush began (zero: none in flight).
	flushing time.Time
}

// NewDispatcher validates opts: every route's receiver must exist.
func NewDispatcher(opts DispatcherOptions) (*Dispatcher, error) {
	if opts.Log == nil {
		return nil, errors.New("alerting: a notification Log is required")
	}
	routes, err := PrepareRoutes(opts.Routes, func(name string) bool { _, ok := opts.Receivers[name]; return ok })
	if err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	opts.Routes = routes
	if opts.InhibitRules == nil {
		opts.InhibitRules = DefaultInhibitRules()
	}
	for i := range opts.InhibitRules {
		if err := opts.InhibitRules[i].Prepare(); err != nil {
			return nil, fmt.Errorf("alerting: inhibit_rules[%d]: %w", i, err)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tick <= 0 {
		opts.Tick = 250 * time.Millisecond
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	if opts.Retention <= 0 {
		opts.Retention = 120 * time.Hour
	}
	if opts.GCInterval == 0 {
		opts.GCInterval = 15 * time.Minute
	}
	if opts.RetryInitial <= 0 {
		opts.RetryInitial = 500 * time.Millisecond
	}
	f := promauto.With(opts.Registerer)
	d := &Dispatcher{opts: opts, groups: map[string]*group{}, wake: make(chan struct{}, 1), sem: make(chan struct{}, opts.Concurrency),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: "bulwark", Subsystem: "notifications", Name: "latency_seconds",
			Help:    "From the first alert of an incident becoming active to its first notification, by receiver.",
			Buckets: []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800}}, []string{"receiver"}),
		sent: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "notifications", Name: "sent_total",
			Help: "Notifications delivered, by receiver."}, []string{"receiver"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "notifications", Name: "failed_total",
			Help: "Notifications that failed after their retries, by receiver."}, []string{"receiver"}),
	}
	d.unrouted = f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "alerts", Name: "unrouted_total",
		Help: "Firing alerts handed to the dispatcher that no route took (each time handed), hence notified to nobody."})
	for name := range opts.Receivers { // a receiver never used shows 0, not nothing, and a rate over its first notification is not empty
		d.sent.WithLabelValues(name)
		d.failed.WithLabelValues(name)
		d.latency.WithLabelValues(name)
	}
	for _, state := range []string{"firing", "acknowledged"} {
		f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Name: "incidents", ConstLabels: prometheus.Labels{"state": state},
			Help: "Incidents (alert groups with firing alerts) held now: firing, and of those acknowledged."},
			func() float64 { return d.countIncidents(state == "acknowledged") })
	}
	return d, nil
}

// countIncidents counts the groups with a firing alert (acknowledged ones only, if acked).
func (d *Dispatcher) countIncidents(acked bool) float64 {
	n := 0
	for _, in := range d.Incidents() {
		firing := slices.ContainsFunc(in.Alerts, func(a *Alert) bool { return !a.Resolved() })
		if firing && (!acked || in.Ack != nil) {
			n++
		}
	}
	return float64(n)
}

// Add routes alerts into their groups; an alert already held is updated.
func (d *Dispatcher) Add(alerts []*Alert) {
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range alerts {
		routes := matchRoutes(d.opts.Routes, a.Labels)
		if len(routes) == 0 && !a.Resolved() {
			d.unrouted.Inc()
		}
		for _, r := range routes {
			gl := r.groupLabels(a.Labels)
			key := groupKey(r.id, r.Receiver, gl)
			g := d.groups[key]
			if g == nil {
				// A resolved alert makes a group too: after a restart, the
				// log may hold its incident still open, to be told resolved
				// (the flush tells nothing if it is not).
				g = &group{key: key, route: r, labels: gl, alerts: map[uint64]*Alert{}, next: now.Add(time.Duration(r.GroupWait))}
				d.groups[key] = g
				select {
				case d.wake <- struct{}{}:
				default:
				}
			}
			g.alerts[a.Fingerprint()] = a
		}
	}
}

// Run notifies due groups until ctx ends, each group on its own goroutine
// (at most Concurrency at once). A new group wakes it, so a short group_wait is kept to the
// millisecond rather than to the next tick.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTimer(d.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
		d.startDue(ctx)
		d.maybeGC(ctx)
		t.Reset(d.untilDue())
	}
}

// untilDue is how long until the next group is due, at most a tick.
func (d *Dispatcher) untilDue() time.Duration {
	now := d.opts.Now()
	wait := d.opts.Tick
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.groups {
		if g.flushing.IsZero() {
			wait = min(wait, g.next.Sub(now))
		}
	}
	return max(wait, time.Millisecond)
}

// FlushDue notifies every group that is due and waits for those flushes
// (not for flushes started earlier and still in flight).
func (d *Dispatcher) FlushDue(ctx context.Context) {
	d.startDue(ctx).Wait()
}

// startDue starts the flush of every due group not already flushing.
func (d *Dispatcher) startDue(ctx context.Context) *sync.WaitGroup {
	now := d.opts.Now()
	var wg sync.WaitGroup
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastTick = now
	var sources []*Alert // the firing alerts that may inhibit others, gathered once
	if len(d.opts.InhibitRules) > 0 {
		for _, g := range d.groups {
			for _, a := range g.alerts {
				if !a.Resolved() {
					sources = append(sources, a)
				}
			}
		}
	}
	for _, g := range d.groups {
		if now.Before(g.next) || !g.flushing.IsZero() {
			continue
		}
		g.flushing = now
		g.next = now.Add(time.Duration(g.route.GroupInterval))
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case d.sem <- struct{}{}:
			case <-ctx.Done():
				d.done(g)
				return
			}
			defer func() { <-d.sem }()
			d.flush(ctx, g, now, sources)
		}()
	}
	return &wg
}

// done marks g's flush ended.
func (d *Dispatcher) done(g *group) {
	d.mu.Lock()
	g.flushing = time.Time{}
	d.mu.Unlock()
}

// ErrStuck is returned by Healthy when notifications are not getting out.
var ErrStuck = errors.New("notifications stuck")

// Healthy reports whether the notification pipeline is moving: Run looks
// for due groups (if it was started), and no flush has been in flight much
// longer than its deadlines allow (a send, its fallback and an escalation,
// each bounded by the group interval). The heartbeat stops when it is not.
func (d *Dispatcher) Healthy() error {
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.lastTick.IsZero() && now.Sub(d.lastTick) > 10*d.opts.Tick+time.Minute {
		return fmt.Errorf("%w: no group looked at for %s", ErrStuck, now.Sub(d.lastTick).Round(time.Second))
	}
	for _, g := range d.groups {
		if !g.flushing.IsZero() && now.Sub(g.flushing) > 3*sendBudget(g.route)+time.Minute {
			return fmt.Errorf("%w: group %s of receiver %s in flight for %s", ErrStuck, g.key, g.route.Receiver,
				now.Sub(g.flushing).Round(time.Second))
		}
	}
	return nil
}

// Incident is a group as the API shows it.
type Incident struct {
	GroupKey    string            `json:"groupKey"`
	Receiver    string            `json:"receiver"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []*Alert          `json:"alerts"`
	Silenced    int               `json:"silenced"`
	Ack         *Ack              `json:"ack,omitempty"`
}

// Incidents lists the groups held now.
func (d *Dispatcher) Incidents() []Incident {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Incident{}
	for _, g := range d.groups {
		in := Incident{GroupKey: g.key, Receiver: g.route.Receiver, GroupLabels: g.labels}
		for _, a := range g.alerts {
			if sl := d.opts.Silencer; sl != nil && sl.Muted(a.Labels) != nil {
				in.Silenced++
				continue
			}
			in.Alerts = append(in.Alerts, a)
		}
		if d.opts.Silencer != nil {
			in.Ack = d.opts.Silencer.Acked(g.key)
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Incident) int { return strings.Compare(a.GroupKey, b.GroupKey) })
	return out
}

// held reports whether a log entry's group is held now (its fallback and
// escalation entries with it).
func (d *Dispatcher) held(_, key string) bool {
	key, _, _ = strings.Cut(key, "#")
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.groups[key]
	return ok
}

// maybeGC collects the log and the silences once per GCInterval.
func (d *Dispatcher) maybeGC(ctx context.Context) {
	if d.opts.GCInterval < 0 {
		return
	}
	now := d.opts.Now()
	d.mu.Lock()
	due := now.Sub(d.lastGC) >= d.opts.GCInterval
	if due {
		d.lastGC = now
	}
	d.mu.Unlock()
	if due {
		d.GC(ctx)
	}
}

// GC forgets what is older than the retention: log entries of groups not
// held, expired silences, acknowledgements of incidents no longer held.
func (d *Dispatcher) GC(ctx context.Context) {
	before := d.opts.Now().Add(-d.opts.Retention)
	if n, err := d.opts.Log.GC(ctx, before, d.held); err != nil {
		d.opts.Logger.Error("notification log GC", "err", err)
	} else if n > 0 {
		d.opts.Logger.Debug("notification log GC", "deleted", n)
	}
	if sl := d.opts.Silencer; sl != nil {
		if err := sl.GC(ctx, d.opts.Retention, func(key string) bool { return d.held("", key) }); err != nil {
			d.opts.Logger.Error("silences GC", "err", err)
		}
	}
}
