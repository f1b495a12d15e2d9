package collector

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify/alertmanager"
	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// newRules builds the rule manager over the collector's engine and store,
// the dispatcher of notifications, and the forwarding to Alertmanagers,
// each when configured.
func (a *App) newRules(api *query.API) error {
	ac := a.opts.Config.Alerting
	if err := a.newDispatcher(); err != nil {
		return err
	}
	var sinks []func([]*rules.Alert)
	if a.dispatcher != nil {
		sinks = append(sinks, func(al []*rules.Alert) { a.dispatcher.Add(alerting.FromRules(al)) })
	}
	if len(ac.Alertmanagers) > 0 {
		var urls []string
		token := ""
		for _, am := range ac.Alertmanagers {
			urls = append(urls, am.URL)
			if am.TokenFile != "" {
				tok, err := configfile.Secret(am.TokenFile, "")
				if err != nil {
					return fmt.Errorf("collector: alertmanager token: %w", err)
				}
				token = tok
			}
		}
		var err error
		if a.alertmanager, err = alertmanager.New(alertmanager.Options{URLs: urls, Token: token,
			Logger: a.opts.Logger.With("component", "alertmanager"), Registerer: a.registry}); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		sinks = append(sinks, func(al []*rules.Alert) { a.alertmanager.Enqueue(toAlertmanager(al)) })
	}
	if err := a.newDrillDispatcher(); err != nil {
		return err
	}
	notifyFn := func(_ context.Context, alerts []*rules.Alert) {
		a.addCriticality(alerts)
		a.startPlaybooks(alerts)
		// Alerts of a drill's series never reach the production on-call
		// (its receivers, routes and Alertmanagers): only the drill route.
		prod, drilled := splitDrill(alerts)
		if a.drillDispatcher != nil && len(drilled) > 0 {
			a.drillDispatcher.Add(alerting.FromRules(drilled))
		}
		if len(prod) == 0 {
			return
		}
		for _, sink := range sinks {
			sink(prod)
		}
	}
	if hb := ac.Heartbeat; hb != nil {
		u := hb.URL
		if hb.URLFile != "" {
			var err error
			if u, err = configfile.Secret(hb.URLFile, ""); err != nil {
				return fmt.Errorf("collector: heartbeat: %w", err)
			}
		}
		interval := time.Duration(hb.Interval)
		if interval <= 0 {
			interval = time.Minute
		}
		a.heartbeat = &alerting.Heartbeat{URL: u, Interval: interval, Logger: a.opts.Logger.With("component", "heartbeat"),
			Alive: a.pipelineHealthy}
		a.heartbeat.Register(a.registry)
	}
	var err error
	a.rules, err = rule.New(rule.Options{Engine: api.Engine(), Storage: readFrom{TSDB: a.store, read: a.series}, Dir: filepath.Join(a.opts.Config.DataDir, "rules"),
		Interval: time.Duration(ac.EvaluationInterval), Builtin: ac.Builtin, Files: ac.RuleFiles, Targets: a.targetInfo, Agents: a.agentInfo,
		Notify: notifyFn, Logger: a.opts.Logger.With("component", "rules"), Registerer: a.registry})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	// Availability is re-tallied when results arrive, not at the next
	// evaluation of the built-in group.
	a.ingest.SetStored(a.rules.Arrived)
	return nil
}

// splitDrill separates the alerts labelled with a drill from the others.
func splitDrill(alerts []*rules.Alert) (prod, drilled []*rules.Alert) {
	for _, al := range alerts {
		if al.Labels.Get("drill") != "" {
			drilled = append(drilled, al)
		} else {
			prod = append(prod, al)
		}
	}
	return prod, drilled
}

// newDrillDispatcher builds the drill route (alerting.drill_route): the
// alerts of drills, grouped by drill, alert and classification by default.
func (a *App) newDrillDispatcher() error {
	dr := a.opts.Config.Alerting.DrillRoute
	if dr == nil {
		return nil
	}
	route := *dr
	if len(route.GroupBy) == 0 {
		route.GroupBy = []string{"drill", "alertname", "classification"}
	}
	var err error
	a.drillDispatcher, err = alerting.NewDispatcher(alerting.DispatcherOptions{
		Routes:    []alerting.Route{route},
		Receivers: a.receiverMap, Log: a.state, InhibitRules: a.opts.Config.Alerting.InhibitRules,
		Logger: a.opts.Logger.With("component", "notify", "route", "drill"),
		// Its counters stay apart from production's: a drill's notifications are in its report.
		Registerer: prometheus.NewRegistry(),
		// The production dispatcher collects the shared log (this one would take its groups for gone).
		GCInterval: -1})
	if err != nil {
		return fmt.Errorf("collector: alerting.drill_route: %w", err)
	}
	return nil
}

// targetInfo describes the targets for the built-in rules: sector,
// criticality, and how often they are probed.
func (a *App) targetInfo() []rule.TargetInfo {
	def := time.Duration(a.opts.Config.Alerting.DefaultProbeInterval)
	now := time.Now()
	var out []rule.TargetInfo
	for _, t := range a.reloader.targets() {
		iv := def
		if t.Schedule != "" {
			if s, err := target.ParseSchedule(t.Schedule); err == nil {
				next := s.Next(now)
				iv = s.Next(next).Sub(next)
			}
		}
		out = append(out, rule.TargetInfo{ID: t.ID, Sector: t.Sector, Criticality: t.Criticality, Interval: iv})
	}
	return out
}

// addCriticality labels each alert that names a target with the target's
// criticality (1 to 3), so routes (and Alertmanagers) can page on critical
// services alone. An alert that already has the label keeps it. The alerts
// are the rule manager's copies made for sending: changing them is safe.
func (a *App) addCriticality(alerts []*rules.Alert) {
	var crit map[string]int
	for _, al := range alerts {
		id := al.Labels.Get("target")
		if id == "" || al.Labels.Has("criticality") {
			continue
		}
		if crit == nil {
			crit = map[string]int{}
			for _, t := range a.reloader.targets() {
				crit[t.ID] = t.Criticality
			}
		}
		if c := crit[id]; c > 0 {
			al.Labels = labels.NewBuilder(al.Labels).Set("criticality", strconv.Itoa(c)).Labels()
		}
	}
}

// toAlertmanager converts alerts as Prometheus's rules.SendAlerts does: a
// firing alert ends when it would have to be sent again, a resolved one
// when it resolved.
func toAlertmanager(alerts []*rules.Alert) []alertmanager.Alert {
	out := make([]alertmanager.Alert, 0, len(alerts))
	for _, al := range alerts {
		x := alertmanager.Alert{Labels: al.Labels.Map(), Annotations: al.Annotations.Map(), StartsAt: al.FiredAt, EndsAt: al.ValidUntil}
		if !al.ResolvedAt.IsZero() {
			x.EndsAt = al.ResolvedAt
		}
		out = append(out, x)
	}
	return out
}

// newDispatcher builds the silences, and the receivers and routes of the
// configuration.
func (a *App) newDispatcher() error {
	ac := a.opts.Config.Alerting
	var err error
	if a.silencer, err = alerting.NewSilencer(context.Background(), a.state, nil); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	receivers, err := a.receivers(ac)
	if err != nil {
		return err
	}
	maps.Copy(receivers, a.opts.Receivers)
	a.receiverMap = receivers
	routes := ac.Routes
	if len(routes) == 0 && len(a.opts.Receivers) > 0 {
		routes = a.opts.Routes
	}
	if len(routes) == 0 {
		return nil
	}
	a.dispatcher, err = alerting.NewDispatcher(alerting.DispatcherOptions{Routes: routes, Receivers: receivers, Log: a.state,
		Cause: a.sharedCause, Silencer: a.silencer, InhibitRules: ac.InhibitRules, Logger: a.opts.Logger.With("component", "notify"), Registerer: a.registry})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	return nil
}

// layerOrder is the order in which a shared dependency is preferred as the
// probable cause: the one that takes a service down most surely first.
var layerOrder = []string{"dns", "hosting", "cdn", "ca", "mail", "subresource"}

// sharedCause finds the provider most of targets depend on, in their
// dependency graphs: the probable common cause of their outage. It needs
// at least two services and more than half of them; a service failing
// for its own reasons at the same time does not hide the shared one.
func (a *App) sharedCause(targets []string) *alerting.Cause {
	if len(targets) < 2 {
		return nil
	}
	type key struct{ layer, provider string }
	users := map[key][]string{}
	info := map[key]alerting.Cause{}
	for _, s := range a.deps.Tracker().Services() {
		if !slices.Contains(targets, s.Target) {
			continue
		}
		for _, l := range s.Layers {
			for _, it := range l.Items {
				k := key{l.Name, it.Attr.Provider}
				if it.Attr.Provider == "" || slices.Contains(users[k], s.Target) {
					continue
				}
				users[k] = append(users[k], s.Target)
				name := it.Attr.ProviderName
				if name == "" {
					name = it.Attr.Provider
				}
				info[k] = alerting.Cause{Layer: l.Name, Provider: it.Attr.Provider, Name: name, Jurisdiction: it.Attr.Jurisdiction,
					Evidence: it.Attr.Evidence}
			}
		}
	}
	var best key
	for k, ts := range users {
		n, bn := len(ts), len(users[best])
		better := n > bn || n == bn && (slices.Index(layerOrder, k.layer) < slices.Index(layerOrder, best.layer) ||
			k.layer == best.layer && k.provider < best.provider)
		if n >= 2 && 2*n > len(targets) && better {
			best = k
		}
	}
	if len(users[best]) == 0 {
		return nil
	}
	c := info[best]
	c.Targets = users[best]
	slices.Sort(c.Targets)
	return &c
}

// rulesEvaluating reports whether every rule group evaluated within three
// of its intervals: the collector is not only up but watching.
func (a *App) rulesEvaluating() bool {
	every := time.Duration(a.opts.Config.Alerting.EvaluationInterval)
	for _, g := range a.rules.Groups() {
		// The availability group's second is no standard of liveness.
		if time.Since(g.GetLastEvaluation()) > 3*max(g.Interval(), every) {
			return false
		}
	}
	return true
}

// pipelineHealthy reports whether the heartbeat may say the collector is
// alive: its rules evaluate and its notifications are not stuck.
func (a *App) pipelineHealthy() bool {
	if !a.rulesEvaluating() {
		return false
	}
	if a.dispatcher != nil {
		if err := a.dispatcher.Healthy(); err != nil {
			a.opts.Logger.Warn("heartbeat withheld", "err", err)
			return false
		}
	}
	return true
}

// agentInfo is every agent allowed to push, with its last push.
func (a *App) agentInfo() []rule.AgentInfo {
	last := a.ingest.LastPush()
	var out []rule.AgentInfo
	for _, id := range a.guard.Agents.List() {
		out = append(out, rule.AgentInfo{ID: id.Agent, Vantage: id.Vantage, LastPush: last[id.Agent]})
	}
	return out
}
