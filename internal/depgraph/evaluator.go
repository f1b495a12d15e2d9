package depgraph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/bulwarkhq/bulwark/internal/attrib"
)

// EvaluatorOptions configure an Evaluator.
type EvaluatorOptions struct {
	Queryable  storage.Queryable
	Appendable storage.Appendable
	Attributor *attrib.Attributor
	Policy     *attrib.Policy
	// Interval between evaluations (default 1m); Window is how far back
	// the latest observation of a service is looked for (default 3h).
	Interval, Window time.Duration
	// DriftFor is how long a layer's change must persist, every
	// observation since agreeing, before it is drift (0: at once).
	DriftFor time.Duration
	// State keeps the last graphs and the drift history across restarts
	// (optional).
	State StateStore
	// Criticality of each target (1 most critical), for what-if answers.
	Criticality map[string]int
	// Targets lists every known target's id (optional): the what-if says
	// how many of them it has a graph for.
	Targets func() []string
	Logger  *slog.Logger
}

// Evaluator periodically rebuilds every service's graph from the stored
// observations, records drift, and writes the results back as series.
type Evaluator struct {
	opts    EvaluatorOptions
	tracker *Tracker
}

// NewEvaluator validates opts and loads the persisted state.
func NewEvaluator(opts EvaluatorOptions) (*Evaluator, error) {
	if opts.Queryable == nil || opts.Appendable == nil || opts.Attributor == nil || opts.Policy == nil {
		return nil, errors.New("depgraph: Queryable, Appendable, Attributor and Policy are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Window <= 0 {
		opts.Window = 3 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Evaluator{opts: opts, tracker: NewTracker(10000)}
	e.tracker.SetDriftFor(opts.DriftFor)
	if opts.State != nil {
		services, events, err := opts.State.Load()
		if err != nil {
			return nil, err
		}
		e.tracker.Seed(services, events)
	}
	return e, nil
}

// Tracker gives access to the graphs and drift events.
func (e *Evaluator) Tracker() *Tracker { return e.tracker }

// Run evaluates every Interval until ctx ends.
func (e *Evaluator) Run(ctx context.Context) error {
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	for {
		if _, err := e.Evaluate(ctx, time.Now()); err != nil && ctx.Err() == nil {
			e.opts.Logger.Error("dependency evaluation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Evaluate rebuilds the graphs at ts and returns the drift found.
func (e *Evaluator) Evaluate(ctx context.Context, ts time.Time) ([]Drift, error) {
	obs, sectors, err := e.observations(ctx, ts)
	if err != nil {
		return nil, err
	}
	// Drift is tracked per vantage point; states and scores use what all
	// vantage points see together.
	merged := map[string][]Observation{}
	var drift []Drift
	for va, byTarget := range obs {
		var services []*Service
		for target, o := range byTarget {
			services = append(services, Build(target, sectors[target], o, e.opts.Attributor, e.opts.Policy))
			merged[target] = append(merged[target], o...)
		}
		drift = append(drift, e.tracker.ObserveFrom(services, va.agent, va.vantage, ts)...)
	}
	var services []*Service
	for target, o := range merged {
		services = append(services, Build(target, sectors[target], o, e.opts.Attributor, e.opts.Policy))
	}
	e.tracker.Set(services)
	for _, d := range drift {
		e.opts.Logger.Warn("dependency drift", "target", d.Target, "layer", d.Layer, "before", d.Before, "after", d.After, "state", d.ToState)
	}
	if err := e.write(ctx, services, ts); err != nil {
		return drift, err
	}
	if e.opts.State != nil {
		if err := e.opts.State.Save(e.tracker.Snapshot(), drift, ts); err != nil {
			return drift, err
		}
	}
	return drift, nil
}

// observations reads the newest dependency observation of each service
// from each agent: the series of the latest probe run only, so what a
// service no longer uses drops out at once.
type vantageKey struct{ agent, vantage string }

func (e *Evaluator) observations(ctx context.Context, ts time.Time) (map[vantageKey]map[string][]Observation, map[string]string, error) {
	// The raw series, with the time of each one's last sample: PromQL's
	// range functions would stamp them all with the evaluation time.
	q, err := e.opts.Queryable.Querier(ts.Add(-e.opts.Window).UnixMilli(), ts.UnixMilli())
	if err != nil {
		return nil, nil, fmt.Errorf("depgraph: %w", err)
	}
	defer q.Close()
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "probe_dependency_info"))
	type sample struct {
		Metric labels.Labels
		T      int64
	}
	var vec []sample
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		last := int64(-1)
		for it.Next() != chunkenc.ValNone {
			last = it.AtT()
		}
		if last >= 0 {
			vec = append(vec, sample{s.Labels(), last})
		}
	}
	if err := set.Err(); err != nil {
		return nil, nil, fmt.Errorf("depgraph: read observations: %w", err)
	}
	newest := map[string]int64{} // target/agent -> newest run
	key := func(s sample) string { return s.Metric.Get("target") + "\x00" + s.Metric.Get("agent") }
	for _, s := range vec {
		if k := key(s); s.T > newest[k] {
			newest[k] = s.T
		}
	}
	obs := map[vantageKey]map[string][]Observation{}
	sectors := map[string]string{}
	for _, s := range vec {
		if s.T != newest[key(s)] {
			continue
		}
		m := s.Metric
		t := m.Get("target")
		sectors[t] = m.Get("sector")
		va := vantageKey{m.Get("agent"), m.Get("vantage")}
		if obs[va] == nil {
			obs[va] = map[string][]Observation{}
		}
		obs[va][t] = append(obs[va][t], Observation{Layer: m.Get("layer"), Kind: m.Get("kind"), Name: m.Get("name"), Addr: m.Get("addr"),
			Org: m.Get("organization"), Country: m.Get("country"), SHA256: m.Get("sha256"), AnchorKeyID: m.Get("anchor_key_id")})
	}
	return obs, sectors, nil
}

// write appends the results as series at ts.
func (e *Evaluator) write(ctx context.Context, services []*Service, ts time.Time) error {
	app := e.opts.Appendable.Appender(ctx)
	t := ts.UnixMilli()
	counts := map[string]int{}
	for _, d := range e.tracker.Events("") {
		counts[d.Target+"\x00"+d.Layer]++
	}
	add := func(v float64, kv ...string) error {
		_, err := app.Append(0, labels.FromStrings(kv...), t, v)
		return err
	}
	for _, s := range services {
		if err := add(s.Score, "__name__", "bulwark_foreign_dependency_score", "target", s.Target, "sector", s.Sector,
			"worst_layer", s.WorstLayer, "worst_state", s.WorstState); err != nil {
			app.Rollback()
			return fmt.Errorf("depgraph: write: %w", err)
		}
		for _, l := range s.Layers {
			add(StateValue(l.State), "__name__", "bulwark_layer_state", "target", s.Target, "sector", s.Sector, "layer", l.Name, "state", l.State)
			add(float64(counts[s.Target+"\x00"+l.Name]), "__name__", "bulwark_dependency_drift_total", "target", s.Target, "sector", s.Sector, "layer", l.Name)
			for _, it := range l.Items {
				asn := ""
				if it.Attr.ASN != 0 {
					asn = strconv.FormatUint(uint64(it.Attr.ASN), 10)
				}
				add(1, "__name__", "bulwark_dependency_info", "target", s.Target, "sector", s.Sector, "layer", l.Name, "name", it.Name,
					"provider", it.Attr.Provider, "asn", asn, "country", it.Attr.Country, "jurisdiction", it.Attr.Jurisdiction,
					"rule", it.Attr.Rule, "foreign", strconv.FormatBool(it.Foreign))
			}
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("depgraph: commit: %w", err)
	}
	return nil
}

// StateStore persists graphs and drift (the collector's state database).
type StateStore interface {
	Load() (map[string]*Service, []Drift, error)
	Save(graphs map[string]*Service, drift []Drift, at time.Time) error
}
