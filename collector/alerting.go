package collector

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/rules"

	"github.com/bulwarkhq/bulwark/alerting/notify/alertmanager"
	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/internal/config"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// newRules builds the rule manager over the collector's engine and store,
// and the forwarding to Alertmanagers when configured.
func (a *App) newRules(api *query.API) error {
	ac := a.opts.Config.Alerting
	var notifyFn func(context.Context, []*rules.Alert)
	if len(ac.Alertmanagers) > 0 {
		var urls []string
		token := ""
		for _, am := range ac.Alertmanagers {
			urls = append(urls, am.URL)
			if am.TokenFile != "" {
				tok, err := config.Secret(am.TokenFile, "")
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
		notifyFn = func(_ context.Context, alerts []*rules.Alert) { a.alertmanager.Enqueue(toAlertmanager(alerts)) }
	}
	var err error
	a.rules, err = rule.New(rule.Options{Engine: api.Engine(), Storage: a.store, Dir: filepath.Join(a.opts.Config.DataDir, "rules"),
		Interval: time.Duration(ac.EvaluationInterval), Builtin: ac.Builtin, Files: ac.RuleFiles, Targets: a.targetInfo,
		Notify: notifyFn, Logger: a.opts.Logger.With("component", "rules"), Registerer: a.registry})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
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
