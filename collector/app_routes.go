package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/console"
	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/names"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/collector/targets"
	"github.com/bulwarkhq/bulwark/collector/zone"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// routes builds the ingest, query, console, inventory and zone handlers,
// wires rules, playbooks, drills and sinks, and registers every route.
func (a *App) routes(agents *auth.Agents) (*http.ServeMux, error) {
	ing, err := ingest.New(ingest.Options{Store: a.store, Agents: agents, Limits: a.opts.Config.Limits,
		Logger: a.opts.Logger.With("component", "ingest"), Registerer: a.registry})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	qc := a.opts.Config.Query
	api, err := query.New(query.Options{Queryable: a.series, Logger: a.opts.Logger.With("component", "query"),
		Registerer: a.registry, Timeout: time.Duration(qc.Timeout), MaxConcurrent: qc.MaxConcurrent,
		MaxSamples: qc.MaxSamples, LogFile: qc.LogFile,
		Limits: query.Limits{MaxLabelBytes: uint64(qc.MaxLabelBytes), MaxQueryLength: qc.MaxQueryLength,
			MaxRequestBytes: int64(qc.MaxRequestBytes)}})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if err := a.sovereignty(); err != nil { // opens the state, which holds the imported targets
		return nil, err
	}
	inv, err := inventory.New(context.Background(), inventory.Options{DB: a.state,
		Legacy: filepath.Join(a.opts.Config.DataDir, "state", "targets.json"), Logger: a.opts.Logger.With("component", "inventory")})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	a.inv = inv
	zones := zone.NewStore(filepath.Join(a.opts.Config.DataDir, "state", "zone"))
	if a.names, err = names.Open(filepath.Join(a.opts.Config.DataDir, "state", "names.json")); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	reports, err := zone.NewReports(zone.ReportsOptions{Store: zones, Attributor: a.attributor, Policy: &a.policy,
		Types: func() map[string]string { return inventory.Types(inv) }, TypesVersion: inv.Version,
		Resolved: a.names.Lookup, ResolvedVersion: a.names.Version,
		Registerer: a.registry, Logger: a.opts.Logger.With("component", "zone")})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	a.names.Wanted = func() []string { return unglued(zones, reports) }
	con, err := console.New(console.Options{Engine: api.Engine(), Queryable: a.series, Logger: a.opts.Logger,
		Targets:         func() []target.Target { return a.reloader.targets() },
		Alerting:        a.consoleAlerts,
		Drill:           a.consoleDrill,
		Classify:        a.opts.Config.Alerting.Builtin.WithDefaults().Classify,
		DefaultInterval: time.Duration(a.opts.Config.Alerting.DefaultProbeInterval),
		WhatIf:          a.deps.WhatIf,
		Dependencies:    a.deps.Tracker().Services,
		Drift:           func() []depgraph.Drift { return a.deps.Tracker().Events("") },
		DNSReport: func() (*zone.Report, error) {
			origins, err := zones.Origins()
			if err != nil || len(origins) == 0 {
				return nil, fmt.Errorf("no zone imported: run `bulwark zone import FILE`")
			}
			return reports.Get(context.Background(), origins[0])
		}})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	tl, err := targets.New(agents, nil)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	users := a.opts.Users
	if a.guard, err = auth.NewGuard(agents, users, a.opts.Config.Auth.AnonymousRole); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	a.reloader = newReloader(a, tl, inv)
	if err := a.reloader.targetsChanged(); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	mux := &router{mux: http.NewServeMux(), guard: a.guard, publicMetric: a.opts.Config.Auth.PublicMetrics,
		queryTimeout: time.Duration(a.opts.Config.Query.Timeout)}
	a.router = mux
	a.ingest = ing
	if err := a.newRules(api); err != nil {
		return nil, err
	}
	if err := a.newPlaybooks(api.Engine()); err != nil {
		return nil, err
	}
	if err := a.newDrills(); err != nil {
		return nil, err
	}
	ing.SetDrills(a.drills.Known)
	if err := a.newSinks(ing); err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /api/v1/drills", a.drillList)
	mux.HandleFunc("GET /api/v1/drills/{id}", a.drillList)
	mux.HandleFunc("POST /api/v1/drills", a.drillStart)
	mux.HandleFunc("POST /api/v1/drills/{id}/stop", a.drillStop)
	mux.HandleFunc("GET /api/v1/drills/{id}/report", a.drillReport)
	mux.HandleFunc("GET /api/v1/admin/backup", a.backupHandler)
	mux.HandleFunc("GET /api/v1/agents/{id}/drill", a.agentDrill(agents))
	mux.HandleFunc("GET /api/v1/playbooks", a.playbookList)
	mux.HandleFunc("GET /api/v1/playbooks/runs", a.playbookRuns)
	mux.HandleFunc("GET /api/v1/playbooks/runs/{id}", a.playbookRuns)
	mux.HandleFunc("GET /api/v1/playbooks/runs/{id}/export", a.playbookRunExport)
	mux.HandleFunc("POST /api/v1/playbooks/{name}/run", a.playbookRun)
	mux.HandleFunc("POST /api/v1/playbooks/runs/{id}/approve", a.playbookAnswer)
	mux.HandleFunc("POST /api/v1/playbooks/runs/{id}/tick", a.playbookAnswer)
	mux.HandleFunc("POST /api/v1/playbooks/kill", a.playbookKill)
	mux.HandleFunc("GET /api/v1/rules", a.rules.ServeRules)
	mux.HandleFunc("GET /api/v1/alerts", a.rules.ServeAlerts)
	mux.HandleFunc("GET /api/v1/incidents", a.incidents)
	mux.HandleFunc("POST /api/v1/incidents/ack", a.acknowledge)
	mux.HandleFunc("GET /api/v1/silences", a.listSilences)
	mux.HandleFunc("POST /api/v1/silences", a.addSilence)
	mux.HandleFunc("DELETE /api/v1/silences/{id}", a.expireSilence)
	mux.HandleFunc("GET /api/v1/audit", a.auditLog)
	mux.HandleFunc("GET /api/v1/audit/export", a.auditExport)
	mux.HandleFunc("POST /api/v1/slack/interactions", a.slackInteractions)
	mux.HandleFunc("/api/", notFound)
	mux.Handle("/api/v1/write", ing)
	mux.Handle("GET /api/v1/agents/{id}/targets", tl)
	mux.Handle("POST /api/v1/targets/import", inventory.ImportHandler(inv, a.reloader.targetsChanged))
	mux.HandleFunc("POST /-/reload", a.reloader.serveHTTP)
	if a.opts.Config.Web.EnablePprof {
		mux.HandleFunc("/debug/pprof/", servePprof)
	}
	api.Register(mux)
	a.deps.Register(mux)
	mux.HandleFunc("GET /api/v1/dependencies/history", func(w http.ResponseWriter, r *http.Request) {
		h, err := a.state.History(r.Context(), r.URL.Query().Get("target"))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": h})
	})
	mux.Handle("GET /api/v1/reports/dns", zone.ReportHandler(reports))
	mux.Handle("GET /api/v1/agents/{id}/names", a.names.Handler(agents))
	mux.Handle("POST /api/v1/agents/{id}/names", a.names.Handler(agents))
	con.Register(mux)
	acc, err := a.consoleAccess()
	if err != nil {
		return nil, err
	}
	if err := con.RegisterAccess(mux, acc); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Bulwark is healthy.") })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "Bulwark is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Bulwark is ready.")
	})
	return mux.mux, mux.err()
}
