// Package rule evaluates alerting and recording rules, in Prometheus's
// rule-file format, with the collector's PromQL engine: the operator's
// rule files and Bulwark's built-in rules (vantage quorum, silence,
// latency, certificates, DNSSEC, sovereignty). Alert states are written as
// ALERTS and ALERTS_FOR_STATE, so a restart restores pending and firing
// alerts, and the API answers in Prometheus's JSON shapes.
package rule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
)

// Storage is where rules read series and write their results.
type Storage interface {
	storage.Queryable
	storage.Appendable
	storage.AppendableV2
}

// TargetInfo is what the built-in rules need to know of a target, written
// as series before each evaluation of the built-in group.
type TargetInfo struct {
	ID, Sector       string
	Criticality      int
	Interval         time.Duration // how often agents probe it (0: unknown)
	LatencyObjective time.Duration // 0: the built-in default
}

// AgentInfo is when an agent last delivered samples (zero: never since
// the collector started), written as bulwark_agent_last_push_timestamp_seconds.
type AgentInfo struct {
	ID, Vantage string
	LastPush    time.Time
}

// Options configure a Manager.
type Options struct {
	Engine  *promql.Engine
	Storage Storage
	// Dir receives the generated built-in rule file.
	Dir string
	// Interval between evaluations (default 15s).
	Interval time.Duration
	Builtin  Builtin
	// Files are the operator's rule files (globs allowed, as in Prometheus).
	Files []string
	// Targets lists the targets for the info series (may be nil).
	Targets func() []TargetInfo
	// Agents lists the agents allowed to push, with their last push (may be nil).
	Agents func() []AgentInfo
	// Notify receives the alerts to send, as Prometheus hands them to its
	// notifier: firing ones again every minute, resolved ones once (may be nil).
	Notify     func(ctx context.Context, alerts []*rules.Alert)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Manager runs the rule groups.
type Manager struct {
	opts    Options
	parser  parser.Parser
	m       *rules.Manager
	cancel  context.CancelFunc
	mu      sync.Mutex // Update
	builtin string     // path of the generated file
	started time.Time  // an agent that never pushed counts as silent since then

	availMu   sync.Mutex               // writeAvailability, one at a time
	availPrev map[uint64]labels.Labels // the availability series last written
	firstSeen map[string]int64         // target: first tallied (ms), when it could first report
	availLast int64                    // the newest availability sample written (ms)

	arrMu     sync.Mutex
	arrived   map[string]struct{} // targets with results not yet tallied
	availEval time.Time           // the availability group's last evaluation
}

// New validates opts and builds a Manager; Run starts it.
func New(opts Options) (*Manager, error) {
	if opts.Engine == nil || opts.Storage == nil || opts.Dir == "" {
		return nil, errors.New("rule: Engine, Storage and Dir are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Targets == nil {
		opts.Targets = func() []TargetInfo { return nil }
	}
	if opts.Agents == nil {
		opts.Agents = func() []AgentInfo { return nil }
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("rule: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := parser.NewParser(parser.Options{})
	mgr := &Manager{opts: opts, parser: p, cancel: cancel, builtin: filepath.Join(opts.Dir, "builtin.rules.yml"), started: time.Now()}
	mgr.m = rules.NewManager(&rules.ManagerOptions{
		QueryFunc: rules.EngineQueryFunc(opts.Engine, opts.Storage),
		NotifyFunc: func(ctx context.Context, _ string, alerts ...*rules.Alert) {
			if mgr.opts.Notify != nil && len(alerts) > 0 {
				mgr.opts.Notify(ctx, alerts)
			}
		},
		Context:         ctx,
		AppendableV2:    opts.Storage,
		Queryable:       opts.Storage,
		Logger:          opts.Logger,
		Registerer:      opts.Registerer,
		OutageTolerance: time.Hour,
		ForGracePeriod:  10 * time.Minute,
		ResendDelay:     time.Minute,
		Parser:          p,
	})
	if err := mgr.Update(opts.Builtin, opts.Files); err != nil {
		cancel()
		return nil, err
	}
	return mgr, nil
}

// Run evaluates until Stop.
func (m *Manager) Run() { m.m.Run() }

// Stop ends evaluation and waits for the groups to finish.
func (m *Manager) Stop() {
	m.m.Stop()
	m.cancel()
}

// Update regenerates the built-in rules from b and loads them with the
// operator's files; on any error the rules in force stay.
func (m *Manager) Update(b Builtin, files []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := b.Validate(); err != nil {
		return fmt.Errorf("rule: builtin: %w", err)
	}
	out, err := b.File(m.opts.Interval)
	if err != nil {
		return err
	}
	paths, err := expand(files)
	if err != nil {
		return err
	}
	if err := Check(paths...); err != nil {
		return err
	}
	tmp := m.builtin + ".tmp"
	if err := os.WriteFile(tmp, out, 0o640); err != nil {
		return fmt.Errorf("rule: %w", err)
	}
	if err := os.Rename(tmp, m.builtin); err != nil {
		return fmt.Errorf("rule: %w", err)
	}
	if err := m.m.Update(m.opts.Interval, append([]string{m.builtin}, paths...), labels.EmptyLabels(), "", m.evalIteration); err != nil {
		return fmt.Errorf("rule: %w", err)
	}
	return nil
}

// expand resolves the globs of files.
func expand(files []string) ([]string, error) {
	var out []string
	for _, pat := range files {
		ms, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("rule: rule_files %q: %w", pat, err)
		}
		if len(ms) == 0 && !hasMeta(pat) {
			ms = []string{pat} // a missing file is reported by Check
		}
		out = append(out, ms...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func hasMeta(p string) bool {
	for _, c := range p {
		if c == '*' || c == '?' || c == '[' {
			return true
		}
	}
	return false
}

// evalIteration writes the target info and availability series at the
// built-in group's evaluation time, then evaluates the group. The
// availability group first re-tallies the targets whose results arrived
// since its last evaluation.
func (m *Manager) evalIteration(ctx context.Context, g *rules.Group, ts time.Time) {
	switch g.Name() {
	case BuiltinGroup:
		if err := m.writeTargetInfo(ctx, ts); err != nil {
			m.opts.Logger.Warn("rule: target info", "err", err)
		}
		if err := m.writeAvailability(ctx, ts, nil); err != nil {
			m.opts.Logger.Warn("rule: availability", "err", err)
		}
	case AvailabilityGroup:
		only := m.takeArrived()
		if len(only) > 0 {
			if err := m.writeAvailability(ctx, ts, only); err != nil {
				m.opts.Logger.Warn("rule: availability on arrival", "err", err)
			}
		}
		// Nothing new: the rules wait, up to the evaluation interval (a
		// pending alert's for, the resending of firing ones), since each
		// evaluation expands every active alert's templates.
		m.arrMu.Lock()
		idle := len(only) == 0 && !m.availEval.IsZero() && ts.Sub(m.availEval) < m.opts.Interval && !ts.Before(m.availEval)
		if !idle {
			m.availEval = ts
		}
		m.arrMu.Unlock()
		if idle {
			return
		}
	}
	rules.DefaultEvalIterationFunc(ctx, g, ts)
}

// maxArrived bounds the targets waiting for a tally; past it, they wait
// for the built-in group's, which tallies every target.
const maxArrived = 10000

// Arrived tells that new results of targets were stored: the availability
// group re-tallies them at its next evaluation (within a second) rather
// than at the built-in group's. It never blocks on evaluation, and the
// slice is not kept.
func (m *Manager) Arrived(targets []string) {
	m.arrMu.Lock()
	defer m.arrMu.Unlock()
	if m.arrived == nil {
		m.arrived = map[string]struct{}{}
	}
	for _, t := range targets {
		if len(m.arrived) >= maxArrived {
			return
		}
		m.arrived[t] = struct{}{}
	}
}

// takeArrived returns and forgets the targets waiting for a tally.
func (m *Manager) takeArrived() map[string]struct{} {
	m.arrMu.Lock()
	defer m.arrMu.Unlock()
	out := m.arrived
	m.arrived = nil
	return out
}

func (m *Manager) writeTargetInfo(ctx context.Context, ts time.Time) error {
	b := m.opts.Builtin.WithDefaults()
	app := m.opts.Storage.Appender(ctx)
	t := ts.UnixMilli()
	for _, ti := range m.opts.Targets() {
		crit := ""
		if ti.Criticality > 0 {
			crit = fmt.Sprint(ti.Criticality)
		}
		days, ok := b.CertDays[ti.Criticality]
		if !ok {
			days = b.CertDaysDefault
		}
		obj := ti.LatencyObjective
		if obj <= 0 {
			obj = time.Duration(b.LatencyObjective)
		}
		base := []string{"target", ti.ID, "sector", ti.Sector, "criticality", crit}
		series := []struct {
			name string
			v    float64
		}{{"bulwark_target_cert_warning_days", float64(days)}, {"bulwark_target_latency_objective_seconds", obj.Seconds()}}
		if ti.Interval > 0 {
			series = append(series, struct {
				name string
				v    float64
			}{"bulwark_target_interval_seconds", ti.Interval.Seconds()})
		}
		for _, s := range series {
			if _, err := app.Append(0, labels.FromStrings(append([]string{"__name__", s.name}, base...)...), t, s.v); err != nil {
				app.Rollback()
				return err
			}
		}
	}
	for _, ag := range m.opts.Agents() {
		last := ag.LastPush
		if last.IsZero() {
			last = m.started
		}
		if _, err := app.Append(0, labels.FromStrings("__name__", "bulwark_agent_last_push_timestamp_seconds", "agent", ag.ID, "vantage", ag.Vantage),
			t, float64(last.UnixMilli())/1000); err != nil {
			app.Rollback()
			return err
		}
	}
	return app.Commit()
}

// AlertingRules are the alerting rules in force.
func (m *Manager) AlertingRules() []*rules.AlertingRule { return m.m.AlertingRules() }

// Groups are the rule groups in force.
func (m *Manager) Groups() []*rules.Group { return m.m.RuleGroups() }
