package collector

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// startRules builds the rule manager over the collector's engine and store.
func (a *App) newRules(api *query.API) error {
	ac := a.opts.Config.Alerting
	var err error
	a.rules, err = rule.New(rule.Options{Engine: api.Engine(), Storage: a.store, Dir: filepath.Join(a.opts.Config.DataDir, "rules"),
		Interval: time.Duration(ac.EvaluationInterval), Builtin: ac.Builtin, Files: ac.RuleFiles, Targets: a.targetInfo,
		Logger: a.opts.Logger.With("component", "rules"), Registerer: a.registry})
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
