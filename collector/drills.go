package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/cutset"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/playbooks/drill"
	"github.com/bulwarkhq/bulwark/playbooks/report"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

// newDrills opens the drill manager on the state database.
func (a *App) newDrills() error {
	for i, d := range a.opts.Config.Drills {
		for _, name := range d.Playbooks {
			if a.playbooks.Get(name) == nil {
				return fmt.Errorf("collector: drills[%d] (%s): no playbook named %q", i, d.Name, name)
			}
		}
	}
	m, err := drill.Open(context.Background(), drill.Options{Store: a.state, Plan: a.planDrill,
		Logger: a.opts.Logger.With("component", "drill")})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	a.drills = m
	return nil
}

// planDrill answers the what-if for cut and builds the cut-set the agents
// enforce from the same graphs, so the drill tests what was predicted.
func (a *App) planDrill(cut depgraph.Cut) (*depgraph.WhatIf, *cutset.Cut, error) {
	services := a.deps.Tracker().Services()
	cat := a.attributor.CatalogInUse()
	cut = cut.Resolve(cat)
	if err := cut.Check(services, cat); err != nil {
		return nil, nil, err
	}
	crit := map[string]int{}
	for _, t := range a.reloader.targets() {
		crit[t.ID] = t.Criticality
	}
	prefixes, names := depgraph.CutSet(services, cut)
	wi := depgraph.Evaluate(services, cut, crit)
	wi.SetCompleteness(services, a.targetIDs())
	return wi, &cutset.Cut{Prefixes: prefixes, Names: names}, nil
}

// expireDrills closes drills whose time has run out, until ctx ends.
func (a *App) expireDrills(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.drills.Expire(ctx); err != nil && ctx.Err() == nil {
				a.opts.Logger.Warn("cannot close an expired drill", "err", err)
			}
		}
	}
}

// maxDrillWait bounds an agent's long poll, inside the route's 30 s.
const maxDrillWait = 20 * time.Second

// agentDrill answers an agent's poll: the cut-set in force, or 204. With
// ?wait=D&known=ID it is a long poll: the answer waits, at most D (20 s),
// until the drill in force is not the one the agent knows, so agents
// take up a drill at once rather than at their next poll.
func (a *App) agentDrill(agents *auth.Agents) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := agents.Self(w, r)
		if !ok {
			return
		}
		if v := r.URL.Query().Get("wait"); v != "" {
			wait, err := time.ParseDuration(v)
			if err != nil || wait < 0 {
				apiError(w, http.StatusBadRequest, "wait %q: want a duration such as 20s", v)
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), min(wait, maxDrillWait))
			a.drills.WaitChange(ctx, r.URL.Query().Get("known"))
			cancel()
		}
		c := a.drills.Active(r.Context(), id.Agent)
		if c == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, http.StatusOK, c)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, code int, format string, args ...any) {
	kind := map[int]string{http.StatusBadRequest: "bad_data", http.StatusNotFound: "not_found", http.StatusConflict: "conflict"}[code]
	writeJSON(w, code, map[string]string{"status": "error", "errorType": kind, "error": fmt.Sprintf(format, args...)})
}

// StartDrill is the body of POST /api/v1/drills.
type StartDrill struct {
	Cut       depgraph.Cut        `json:"cut"`
	Duration  configfile.Duration `json:"duration"`
	Playbooks []string            `json:"playbooks,omitempty"`
}

func (a *App) drillStart(w http.ResponseWriter, r *http.Request) {
	var req StartDrill
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "drill: body (at most 1 MiB of {cut, duration, playbooks}): %v", err)
		return
	}
	u, _ := auth.UserFrom(r.Context())
	d, err := a.beginDrill(r.Context(), drill.Request{Cut: req.Cut, Duration: time.Duration(req.Duration), Playbooks: req.Playbooks}, u.ID)
	switch {
	case errors.Is(err, drill.ErrRunning):
		apiError(w, http.StatusConflict, "%v", err)
		return
	case err != nil:
		apiError(w, http.StatusBadRequest, "%v", err)
		return
	}
	a.audit(r, "drill.start", map[string]any{"drill": d.ID, "scenario": d.Scenario, "until": d.Ends, "playbooks": d.Playbooks})
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": summary(d)})
}

// beginDrill starts a drill and its playbooks in drill mode.
func (a *App) beginDrill(ctx context.Context, req drill.Request, actor string) (*drill.Drill, error) {
	for _, name := range req.Playbooks {
		if a.playbooks.Get(name) == nil {
			return nil, fmt.Errorf("drill: no playbook named %q", name)
		}
	}
	d, err := a.drills.Start(ctx, req, actor)
	if err != nil {
		return nil, err
	}
	for _, name := range d.Playbooks {
		run, err := a.runner.Start(a.runCtx, a.playbooks.Get(name), d.ID, "drill:"+d.ID, d.ID, actor, nil, nil)
		if err != nil {
			a.opts.Logger.Warn("drill playbook not started", "drill", d.ID, "playbook", name, "err", err)
			continue
		}
		if err := a.drills.AddRun(ctx, d.ID, run.ID); err != nil {
			a.opts.Logger.Warn("drill run not recorded", "drill", d.ID, "err", err)
		}
	}
	d, _ = a.drills.Get(d.ID)
	return d, nil
}

// runDrillSchedules starts the configured drills at their times, until
// ctx ends. A drill that cannot start (another runs) is logged and
// audited, and waits for its next time.
func (a *App) runDrillSchedules(ctx context.Context) {
	var jobs []*cronJob
	for _, d := range a.opts.Config.Drills {
		s, err := cron.ParseStandard(d.Schedule)
		if err != nil {
			continue // checked when loaded
		}
		who := "schedule:" + d.Name
		jobs = append(jobs, &cronJob{sched: s, fire: func(ctx context.Context, _ time.Time) {
			req := drill.Request{Cut: scheduledCut(d.Cut), Duration: time.Duration(d.Duration), Playbooks: d.Playbooks}
			dr, err := a.beginDrill(ctx, req, who)
			if err != nil {
				a.opts.Logger.Warn("scheduled drill not started", "drill", d.Name, "err", err)
				a.recordAudit(ctx, who, "drill.not-started", map[string]string{"error": err.Error()})
				return
			}
			a.recordAudit(ctx, who, "drill.start", map[string]any{"drill": dr.ID, "scenario": dr.Scenario, "until": dr.Ends})
		}})
	}
	runCron(ctx, jobs)
}

// scheduledCut turns a configured cut into the what-if's (checked when loaded).
func scheduledCut(c collectorconfig.DrillCut) depgraph.Cut {
	cut := depgraph.Cut{Countries: c.Countries, Providers: c.Providers, ASNs: c.ASNs}
	for _, s := range c.CIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			cut.CIDRs = append(cut.CIDRs, p.Masked())
		}
	}
	return cut
}

func (a *App) drillStop(w http.ResponseWriter, r *http.Request) {
	u, _ := auth.UserFrom(r.Context())
	d, err := a.drills.Stop(r.Context(), r.PathValue("id"), u.ID)
	switch {
	case errors.Is(err, drill.ErrNotFound):
		apiError(w, http.StatusNotFound, "%v", err)
		return
	case err != nil:
		apiError(w, http.StatusConflict, "%v", err)
		return
	}
	a.audit(r, "drill.stop", map[string]string{"drill": d.ID})
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": summary(d)})
}

func (a *App) drillList(w http.ResponseWriter, r *http.Request) {
	if id := r.PathValue("id"); id != "" {
		d, ok := a.drills.Get(id)
		if !ok {
			apiError(w, http.StatusNotFound, "drill %s: %v", id, drill.ErrNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": summary(d)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": a.drills.List()})
}

// summary shows a drill with its cut-set counted, not listed: a country's
// cut-set may hold many thousand prefixes.
func summary(d *drill.Drill) any {
	type view struct {
		*drill.Drill
		Set      *cutset.Cut `json:"set,omitempty"`
		Prefixes int         `json:"cut_prefixes"`
		Names    int         `json:"cut_names"`
	}
	v := view{Drill: d}
	if d.Set != nil {
		v.Prefixes, v.Names = len(d.Set.Prefixes), len(d.Set.Names)
	}
	return v
}

// drillReport answers GET /api/v1/drills/{id}/report?format=html|md|json,
// signed with the collector's key (JSON as a signed export whose entries
// are the report's parts).
func (a *App) drillReport(w http.ResponseWriter, r *http.Request) {
	d, ok := a.drills.Get(r.PathValue("id"))
	if !ok {
		apiError(w, http.StatusNotFound, "drill %s: %v", r.PathValue("id"), drill.ErrNotFound)
		return
	}
	rep, err := a.buildReport(r.Context(), d)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	var body []byte
	format := r.URL.Query().Get("format")
	switch format {
	case "", "html":
		format, w.Header()["Content-Type"] = "html", []string{"text/html; charset=utf-8"}
		if body, err = report.HTML(rep); err == nil {
			body = report.SignText(body, a.signer)
		}
	case "md", "markdown":
		format, w.Header()["Content-Type"] = "md", []string{"text/markdown; charset=utf-8"}
		body = report.SignText(report.Markdown(rep), a.signer)
	case "json":
		w.Header().Set("Content-Type", "application/json")
		var x any
		if x, err = report.Signed(rep, a.signer); err == nil {
			body, err = json.MarshalIndent(x, "", "  ")
		}
	default:
		apiError(w, http.StatusBadRequest, "format %q: want html, md or json", format)
		return
	}
	if err != nil {
		apiError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="bulwark-`+d.ID+`.`+format+`"`)
	w.Write(body)
}

// buildReport measures drill d from the store.
func (a *App) buildReport(ctx context.Context, d *drill.Drill) (*report.Report, error) {
	var targets []report.Target
	for _, t := range a.reloader.targets() {
		targets = append(targets, report.Target{ID: t.ID, Name: t.Name, Sector: t.Sector, Criticality: t.Criticality, RTO: time.Duration(t.RTO)})
	}
	var runs []*runner.Run
	for _, id := range d.Runs {
		if run, ok := a.runner.Get(id); ok {
			runs = append(runs, run)
		}
	}
	return report.Build(ctx, report.Input{Drill: d, Targets: targets, Series: a.series, Runs: runs})
}
