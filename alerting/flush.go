package alerting

import (
	"context"
	"crypto/rand"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flush notifies g's receiver if g's state calls for it. It works on a
// snapshot of the group taken under the lock and sends without it; after,
// it forgets only the resolved alerts of the snapshot that did not change
// meanwhile (Alertmanager's DeleteIfNotModified): a resolution that came
// during the send is told next time.
func (d *Dispatcher) flush(ctx context.Context, g *group, now time.Time, sources []*Alert) {
	defer d.done(g)
	d.mu.Lock()
	for fp, a := range g.alerts {
		if !a.Resolved() && !a.ValidUntil.IsZero() && now.After(a.ValidUntil) {
			stale := *a
			stale.EndsAt = a.ValidUntil
			g.alerts[fp] = &stale
		}
	}
	snap := maps.Clone(g.alerts)
	d.mu.Unlock()

	prev, seen, err := d.opts.Log.Get(ctx, g.route.Receiver, g.key)
	if err != nil {
		d.opts.Logger.Error("notification log", "err", err)
		return // the group is tried again at its next interval
	}
	told, n, ack := d.notification(ctx, g, snap, sources, prev, seen)
	alerts, firing := n.Alerts, len(n.Firing()) > 0
	fh, rh := setHash(alerts)
	changed := !told || fh != prev.FiringHash || (rh != prev.ResolvedHash && len(alerts) > len(n.Firing()))
	// An acknowledged incident is not repeated; a change is still told.
	repeat := told && firing && ack == nil && now.Sub(prev.SentAt) >= time.Duration(g.route.RepeatInterval)
	// A resolution is told of an open incident: told firing, or perhaps
	// told (its record lost in a crash after the send).
	resolution := !firing && prev.open()
	if len(alerts) > 0 && (firing && (changed || repeat) || resolution) {
		var ok bool
		if prev, ok = d.tell(ctx, g, n, prev, fh, rh, now); !ok {
			return // the group is tried again at its next interval
		}
	}
	d.escalate(ctx, g, n, firing, ack, prev.Since, now)

	d.mu.Lock()
	for fp, a := range snap {
		if a.Resolved() && g.alerts[fp] == a {
			delete(g.alerts, fp)
		}
	}
	ended := len(g.alerts) == 0
	if ended && d.groups[g.key] == g {
		delete(d.groups, g.key)
	}
	d.mu.Unlock()
	if ended && prev.open() {
		// The group ends with no resolution told (its alerts were muted,
		// or never told): the incident ends all the same.
		d.closeIncident(ctx, g.route.Receiver, g.key, prev.closed(prev.ResolvedHash, prev.SentAt))
	}
}

// notification builds what g's receiver would be told now: the snapshot's
// alerts less those inhibited or silenced, their startsAt as first told in
// the incident, its acknowledgement if it belongs to this incident.
func (d *Dispatcher) notification(ctx context.Context, g *group, snap map[uint64]*Alert, sources []*Alert, prev LogEntry, seen bool) (bool, *Notification, *Ack) {
	alerts := slices.Collect(maps.Values(snap))
	alerts = slices.DeleteFunc(alerts, func(a *Alert) bool { return inhibited(a, sources, d.opts.InhibitRules) })
	sl := d.opts.Silencer
	if sl != nil {
		alerts = slices.DeleteFunc(alerts, func(a *Alert) bool { return sl.Muted(a.Labels) != nil })
	}
	var start time.Time
	for i, a := range alerts {
		if a.Resolved() {
			continue
		}
		if t, ok := prev.Starts[a.Fingerprint()]; ok && prev.open() && t.Before(a.StartsAt) {
			c := *a
			c.StartsAt = t
			alerts[i] = &c
		}
		if start.IsZero() || alerts[i].StartsAt.Before(start) {
			start = alerts[i].StartsAt
		}
	}
	if start.IsZero() && prev.open() {
		for _, t := range prev.Starts {
			if start.IsZero() || t.Before(start) {
				start = t
			}
		}
	}
	slices.SortFunc(alerts, func(a, b *Alert) int { return strings.Compare(a.Labels.String(), b.Labels.String()) })
	var ack *Ack
	if sl != nil {
		ack = sl.Acked(g.key)
		// An acknowledgement belongs to one incident: one given before
		// this incident began was of an earlier one.
		if ack != nil && !start.IsZero() && ack.At.Before(start) && !prev.open() {
			d.endAck(ctx, g.key)
			ack = nil
		}
	}
	n := &Notification{Ack: ack, Receiver: g.route.Receiver, GroupKey: g.key, GroupLabels: g.labels, Status: "resolved",
		Alerts: alerts, Thread: prev.Thread, Incident: prev.Incident, StartsAt: start}
	if len(n.Firing()) > 0 {
		n.Status = "firing"
	}
	if d.opts.Cause != nil {
		n.Cause = d.opts.Cause(downTargets(n.Firing()))
	}
	return seen && !prev.SentAt.IsZero(), n, ack
}

// tell sends n and records it in the log; it reports false if n was not
// delivered (the fallback, if any, was tried). The incident's id is written
// to the log before the first send, so a notification sent again after a
// crash between its send and its record has the same id.
func (d *Dispatcher) tell(ctx context.Context, g *group, n *Notification, prev LogEntry, fh, rh [32]byte, now time.Time) (LogEntry, bool) {
	firing := n.Status == "firing"
	incident := prev.Incident
	if incident == "" {
		incident = strings.ToLower(rand.Text()[:16])
	}
	starts := map[uint64]time.Time{}
	for _, a := range n.Firing() {
		starts[a.Fingerprint()] = a.StartsAt
	}
	if !firing {
		starts = prev.Starts
	}
	if incident != prev.Incident || !maps.Equal(starts, prev.Starts) {
		ahead := prev
		ahead.Incident, ahead.Starts = incident, starts
		if err := d.opts.Log.Put(ctx, n.Receiver, n.GroupKey, ahead); err != nil {
			d.opts.Logger.Error("notification log", "err", err) // sent all the same: a page matters more than its id
		}
	}
	n.Incident = incident
	n.ID = incident + "-" + strconv.FormatUint(prev.Version+1, 10)
	thread, err := d.send(ctx, n, sendBudget(g.route))
	if err != nil {
		d.failed.WithLabelValues(n.Receiver).Inc()
		d.opts.Logger.Error("notification failed", "receiver", n.Receiver, "group", n.GroupKey, "err", err)
		d.fallback(ctx, g, n, fh, rh, now)
		return prev, false
	}
	d.sent.WithLabelValues(n.Receiver).Inc()
	if !firing { // the resolution is told: the incident, its thread and its ack end
		e := prev.closed(rh, now)
		d.closeIncident(ctx, n.Receiver, n.GroupKey, e)
		return e, true
	}
	if thread == "" {
		thread = prev.Thread
	}
	since := prev.Since
	if since.IsZero() {
		since = now
		d.latency.WithLabelValues(n.Receiver).Observe(now.Sub(earliest(n.Firing())).Seconds())
	}
	e := LogEntry{FiringHash: fh, ResolvedHash: rh, SentAt: now, Thread: thread, Since: since, Incident: incident,
		Version: prev.Version + 1, Starts: starts}
	if err := d.opts.Log.Put(ctx, n.Receiver, n.GroupKey, e); err != nil {
		d.opts.Logger.Error("notification log", "err", err)
	}
	return e, true
}

// fallback tells the route's fallback receiver what its receiver could
// not be told, once per change of the incident.
func (d *Dispatcher) fallback(ctx context.Context, g *group, n *Notification, fh, rh [32]byte, now time.Time) {
	fb := g.route.Fallback
	if fb == "" {
		return
	}
	alt := *n
	alt.Receiver, alt.GroupKey, alt.Thread = fb, g.key+"#fallback", ""
	if e, told, _ := d.opts.Log.Get(ctx, fb, alt.GroupKey); told && e.Incident == n.Incident && e.FiringHash == fh && e.ResolvedHash == rh {
		return // the fallback already has this
	}
	if _, err := d.send(ctx, &alt, sendBudget(g.route)); err != nil {
		d.failed.WithLabelValues(fb).Inc()
		d.opts.Logger.Error("fallback notification failed", "receiver", fb, "group", n.GroupKey, "err", err)
		return
	}
	d.sent.WithLabelValues(fb).Inc()
	if err := d.opts.Log.Put(ctx, fb, alt.GroupKey, LogEntry{FiringHash: fh, ResolvedHash: rh, SentAt: now, Incident: n.Incident}); err != nil {
		d.opts.Logger.Error("notification log", "err", err)
	}
}

// closeIncident records that a group's incident has ended, and ends its
// acknowledgement.
func (d *Dispatcher) closeIncident(ctx context.Context, receiver, key string, e LogEntry) {
	if err := d.opts.Log.Put(ctx, receiver, key, e); err != nil {
		d.opts.Logger.Error("notification log", "err", err)
	}
	d.endAck(ctx, key)
}

func (d *Dispatcher) endAck(ctx context.Context, key string) {
	if sl := d.opts.Silencer; sl != nil {
		if err := sl.EndAck(ctx, key); err != nil {
			d.opts.Logger.Error("acknowledgement", "group", key, "err", err)
		}
	}
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
	if _, err := d.send(ctx, &esc, sendBudget(r)); err != nil {
		d.failed.WithLabelValues(esc.Receiver).Inc()
		d.opts.Logger.Error("escalation failed", "receiver", esc.Receiver, "group", g.key, "err", err)
		return
	}
	d.sent.WithLabelValues(esc.Receiver).Inc()
	if err := d.opts.Log.Put(ctx, r.EscalateTo, key, LogEntry{SentAt: now, Since: since, Incident: n.Incident}); err != nil {
		d.opts.Logger.Error("notification log", "err", err)
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
