package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// sovereignty loads the catalog, the geo databases and the policy, and
// builds the dependency evaluator.
func (a *App) sovereignty() error {
	ac := a.opts.Config.Attribution
	cat, err := attrib.LoadCatalog(ac.CatalogFiles...)
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	if ac.GeoDir != "" {
		if a.geo, err = attrib.OpenGeo(ac.GeoDir); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		if stale := a.geo.Staleness(time.Now()); stale != "" {
			a.opts.Logger.Warn("attribution: "+stale, "geo_dir", ac.GeoDir)
		}
	} else {
		a.opts.Logger.Warn("no attribution.geo_dir: addresses are attributed only through the catalog's names")
	}
	pol := ac.Policy
	crit := map[string]int{}
	for _, t := range a.opts.Config.Targets {
		crit[t.ID] = t.Criticality
	}
	if pol.Home == "" {
		a.opts.Logger.Warn("no attribution.policy.home: no dependency counts as foreign")
	}
	roots, err := ac.Roots()
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	a.attributor, a.policy = &attrib.Attributor{Catalog: cat, Geo: a.geo, Roots: roots}, pol
	if err := os.MkdirAll(filepath.Join(a.opts.Config.DataDir, "state"), 0o750); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	if a.state, err = openState(context.Background(), a.opts.Config); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	if a.signer, err = signingKey(filepath.Join(a.opts.Config.DataDir, "state")); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	a.deps, err = depgraph.NewEvaluator(depgraph.EvaluatorOptions{
		Queryable: a.series, Appendable: a.store,
		Attributor: a.attributor, Policy: &a.policy,
		Interval: time.Duration(ac.Interval), Window: time.Duration(ac.Window),
		State: a.state, Criticality: crit, Targets: a.targetIDs, Logger: a.opts.Logger.With("component", "depgraph"),
		DriftFor: time.Duration(a.opts.Config.Alerting.Builtin.WithDefaults().DriftFor),
	})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	return nil
}

// Dependencies is the dependency evaluator.
func (a *App) Dependencies() *depgraph.Evaluator { return a.deps }
