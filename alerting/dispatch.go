package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// LogEntry is what the notification log keeps of the last notification
// of a group to a receiver.
type LogEntry struct {
	FiringHash, ResolvedHash [32]byte
	SentAt                   time.Time
	Thread                   string
	// Since is when the incident was first notified firing (zero once it
	// has resolved): escalation counts from it, across restarts.
	Since time.Time
}

// Log is the notification log: persistent, so a restart or a retry never
// sends the same notification twice.
type Log interface {
	Get(ctx context.Context, receiver, groupKey string) (LogEntry, bool, error)
	Put(ctx context.Context, receiver, groupKey string, e LogEntry) error
}

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

	mu     sync.Mutex
	groups map[string]*group
}

type group struct {
	key    string
	route  *Route
	labels map[string]string
	alerts map[uint64]*Alert
	next   time.Time // when it is due
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
	f := promauto.With(opts.Registerer)
	d := &Dispatcher{opts: opts, groups: map[string]*group{}, wake: make(chan struct{}, 1),
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
	for name := range opts.Receivers { // a receiver never used shows 0, not nothing
		d.sent.WithLabelValues(name)
		d.failed.WithLabelValues(name)
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
				if a.Resolved() {
					continue // nothing was said of it: nothing to take back
				}
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

// Run notifies due groups until ctx ends.
// A new group wakes it, so a short group_wait is kept to the millisecond
// rather than to the next tick.
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
		d.FlushDue(ctx)
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
		wait = min(wait, g.next.Sub(now))
	}
	return max(wait, time.Millisecond)
}

// FlushDue notifies every group that is due.
func (d *Dispatcher) FlushDue(ctx context.Context) {
	now := d.opts.Now()
	d.mu.Lock()
	var due []*group
	for _, g := range d.groups {
		if !now.Before(g.next) {
			due = append(due, g)
		}
	}
	d.mu.Unlock()
	for _, g := range due {
		d.flush(ctx, g, now)
	}
}

func (d *Dispatcher) flush(ctx context.Context, g *group, now time.Time) {
	d.mu.Lock()
	for fp, a := range g.alerts {
		if !a.Resolved() && !a.ValidUntil.IsZero() && now.After(a.ValidUntil) {
			stale := *a
			stale.EndsAt = a.ValidUntil
			g.alerts[fp] = &stale
		}
	}
	alerts := slices.Collect(maps.Values(g.alerts))
	g.next = now.Add(time.Duration(g.route.GroupInterval))
	var sources []*Alert
	if len(d.opts.InhibitRules) > 0 {
		for _, og := range d.groups {
			sources = slices.AppendSeq(sources, maps.Values(og.alerts))
		}
	}
	d.mu.Unlock()
	alerts = slices.DeleteFunc(alerts, func(a *Alert) bool { return inhibited(a, sources, d.opts.InhibitRules) })
	slices.SortFunc(alerts, func(a, b *Alert) int { return strings.Compare(a.Labels.String(), b.Labels.String()) })
	var ack *Ack
	if sl := d.opts.Silencer; sl != nil {
		alerts = slices.DeleteFunc(alerts, func(a *Alert) bool { return sl.Muted(a.Labels) != nil })
		ack = sl.Acked(g.key)
	}
	n := &Notification{Ack: ack, Receiver: g.route.Receiver, GroupKey: g.key, GroupLabels: g.labels, Status: "resolved", Alerts: alerts}
	if len(n.Firing()) > 0 {
		n.Status = "firing"
	}
	if d.opts.Cause != nil {
		n.Cause = d.opts.Cause(downTargets(n.Firing()))
	}
	fh, rh := setHash(alerts)
	prev, seen, err := d.opts.Log.Get(ctx, n.Receiver, n.GroupKey)
	if err != nil {
		d.opts.Logger.Error("notification log", "err", err)
		return
	}
	n.Thread = prev.Thread
	firing := len(n.Firing()) > 0
	changed := !seen || fh != prev.FiringHash || (rh != prev.ResolvedHash && len(alerts) > len(n.Firing()))
	// An acknowledged incident is not repeated; a change is still told.
	repeat := seen && firing && ack == nil && now.Sub(prev.SentAt) >= time.Duration(g.route.RepeatInterval)
	if len(alerts) > 0 && (changed && (firing || seen) || repeat) {
		thread, err := d.send(ctx, n)
		if err != nil {
			d.failed.WithLabelValues(n.Receiver).Inc()
			d.opts.Logger.Error("notification failed", "receiver", n.Receiver, "group", n.GroupKey, "err", err)
			if fb := g.route.Fallback; fb != "" {
				alt := *n
				alt.Receiver, alt.GroupKey, alt.Thread = fb, g.key+"#fallback", ""
				if e, told, _ := d.opts.Log.Get(ctx, fb, alt.GroupKey); told && e.FiringHash == fh && e.ResolvedHash == rh {
					return // the fallback already has this
				}
				if _, ferr := d.send(ctx, &alt); ferr == nil {
					d.sent.WithLabelValues(fb).Inc()
					d.opts.Log.Put(ctx, fb, alt.GroupKey, LogEntry{FiringHash: fh, ResolvedHash: rh, SentAt: now})
				} else {
					d.failed.WithLabelValues(fb).Inc()
					d.opts.Logger.Error("fallback notification failed", "receiver", fb, "group", n.GroupKey, "err", ferr)
				}
			}
			return // the group is tried again at its next interval
		}
		d.sent.WithLabelValues(n.Receiver).Inc()
		if thread == "" {
			thread = prev.Thread
		}
		since := prev.Since
		if !firing {
			since = time.Time{}
		} else if since.IsZero() {
			since = now
			d.latency.WithLabelValues(n.Receiver).Observe(now.Sub(earliest(n.Firing())).Seconds())
		}
		prev = LogEntry{FiringHash: fh, ResolvedHash: rh, SentAt: now, Thread: thread, Since: since}
		if err := d.opts.Log.Put(ctx, n.Receiver, n.GroupKey, prev); err != nil {
			d.opts.Logger.Error("notification log", "err", err)
		}
	}
	d.escalate(ctx, g, n, firing, ack, prev.Since, now)
	// What resolved has been told: forget it; an empty group ends.
	d.mu.Lock()
	for fp, a := range g.alerts {
		if a.Resolved() {
			delete(g.alerts, fp)
		}
	}
	if len(g.alerts) == 0 {
		delete(d.groups, g.key)
	}
	d.mu.Unlock()
}

// escalate tells the route's escalation receiver, once per incident, about
// a firing group nobody acknowledged in time.
func (d *Dispatcher) escalate(ctx context.Context, g *group, n *Notification, firing bool, ack *Ack, since, now time.Time) {
	r := g.route
	if r.EscalateTo == "" || !firing || ack != nil || since.IsZero() || now.Sub(since) < time.Duration(r.EscalateAfter) {
		return
	}
	key := g.key + "#escalated"
	if e, done, err := d.opts.Log.Get(ctx, r.EscalateTo, key); err != nil || done && e.Since.Equal(since) {
		return // this incident was escalated already
	}
	esc := *n
	esc.Receiver, esc.GroupKey, esc.Thread = r.EscalateTo, key, ""
	if _, err := d.send(ctx, &esc); err != nil {
		d.failed.WithLabelValues(esc.Receiver).Inc()
		d.opts.Logger.Error("escalation failed", "receiver", esc.Receiver, "group", g.key, "err", err)
		return
	}
	d.sent.WithLabelValues(esc.Receiver).Inc()
	if err := d.opts.Log.Put(ctx, r.EscalateTo, key, LogEntry{SentAt: now, Since: since}); err != nil {
		d.opts.Logger.Error("notification log", "err", err)
	}
}

// send delivers n, retrying a failure that may pass (three attempts).
func (d *Dispatcher) send(ctx context.Context, n *Notification) (thread string, err error) {
	rcv := d.opts.Receivers[n.Receiver]
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var retry bool
		if tr, ok := rcv.(ThreadReceiver); ok {
			thread, retry, err = tr.NotifyThread(ctx, n)
		} else {
			retry, err = rcv.Notify(ctx, n)
		}
		if err == nil || !retry || attempt == 3 {
			return thread, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// downTargets are the distinct targets of availability alerts.
func downTargets(alerts []*Alert) []string {
	var out []string
	for _, a := range alerts {
		if strings.HasPrefix(a.Labels.Get("classification"), "down-") && a.Labels.Get("classification") != "down-on-one-vantage" {
			if t := a.Labels.Get("target"); t != "" && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	return out
}

// MemLog is a notification log in memory, for tests and the demo.
type MemLog struct {
	mu sync.Mutex
	m  map[string]LogEntry
}

// Get returns the entry of a group.
func (l *MemLog) Get(_ context.Context, receiver, key string) (LogEntry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[receiver+"\x00"+key]
	return e, ok, nil
}

// Put records the entry of a group.
func (l *MemLog) Put(_ context.Context, receiver, key string, e LogEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]LogEntry{}
	}
	l.m[receiver+"\x00"+key] = e
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

// earliest is when the first of alerts became active.
func earliest(alerts []*Alert) time.Time {
	t := alerts[0].StartsAt
	for _, a := range alerts[1:] {
		if a.StartsAt.Before(t) {
			t = a.StartsAt
		}
	}
	return t
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
