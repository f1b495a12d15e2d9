// Package console serves the operator's web console: server-rendered HTML
// with no script and no asset from outside, so it works air-gapped. Every
// page carries a Content-Security-Policy that holds it to that (no script,
// its own style sheets by hash, no framing), nosniff and no-referrer.
package console

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector/zone"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/target"
)

//go:embed templates/*.html
var templates embed.FS

// Options configure the console.
type Options struct {
	// Engine is kept for callers; the console reads Queryable directly.
	Engine    *promql.Engine
	Queryable storage.Queryable
	Logger    *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Dependencies and Drift give the dependency graphs and drift events
	// (optional); DNSReport the report of the newest zone import (optional).
	Dependencies func() []*depgraph.Service
	Drift        func() []depgraph.Drift
	DNSReport    func() (*zone.Report, error)
	// Targets lists every known target (configured and imported): one no
	// agent has reported shows as "no-data" instead of being invisible.
	Targets func() []target.Target
	// Alerting gives the active alerts, incidents and silences (optional).
	Alerting func() AlertState
	// Drill gives the drill running now, nil when none (optional). Its
	// series are shown only under its banner, never in production views.
	Drill func() *Drill
	// Classify is the vantage quorum's classifier, used for targets
	// without a stored classification (default: the built-in rules'
	// with their defaults).
	Classify func(votes map[string]float64, vantages map[string]string) string
	// DefaultInterval is the probe interval of a target without a
	// schedule (default 1m): a result older than its interval is stale.
	DefaultInterval time.Duration
	// WhatIf answers a cut given as the API's query parameters (optional).
	WhatIf func(q url.Values) (*depgraph.WhatIf, error)
	// PageSize is how many services a page of /services lists (default 100).
	PageSize int
}

// Drill is the drill in force, as the banner shows it.
type Drill struct {
	ID, Scenario, Cut string
	Started, Ends     time.Time
}

// Console renders the pages.
type Console struct {
	opts Options
	tmpl *template.Template
	csp  string // the Content-Security-Policy of every page
}

// New parses the templates and returns a Console.
func New(opts Options) (*Console, error) {
	if opts.Queryable == nil {
		return nil, errors.New("console: Queryable is required")
	}
	if opts.Classify == nil {
		opts.Classify = rule.Builtin{}.WithDefaults().Classify
	}
	if opts.DefaultInterval <= 0 {
		opts.DefaultInterval = time.Minute
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t, err := template.New("").Funcs(template.FuncMap{
		"ms":  func(s float64) string { return fmt.Sprintf("%.0f ms", s*1000) },
		"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
		"age": func(d time.Duration) string { return d.Round(time.Second).String() },
		"add": func(a, b int) int { return a + b },
	}).ParseFS(templates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	csp, err := contentSecurityPolicy(templates)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return &Console{opts: opts, tmpl: t, csp: csp}, nil
}

// Register adds the console's routes to mux, each with the headers of
// secure.
func (c *Console) Register(mux interface {
	HandleFunc(string, func(http.ResponseWriter, *http.Request))
}) {
	mux.HandleFunc("GET /{$}", c.secure(c.overview))
	mux.HandleFunc("GET /services", c.secure(c.services))
	mux.HandleFunc("GET /alerts", c.secure(c.alerts))
	mux.HandleFunc("GET /dependencies", c.secure(c.dependencies))
	mux.HandleFunc("GET /reports/dns", c.secure(c.dnsReport))
}

func (c *Console) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.tmpl.ExecuteTemplate(w, name, data); err != nil {
		c.opts.Logger.Error("console: render", "page", name, "err", err)
	}
}

// depsShown bounds the services the dependencies page lists (highest
// score first); the API has them all.
const depsShown = 200

func (c *Console) dependencies(w http.ResponseWriter, r *http.Request) {
	var page struct {
		Drill    *drillView
		Services []*depgraph.Service
		Summary  []depgraph.LayerSummary
		Drift    []depgraph.Drift
		// Known services (configured and imported), Observed of them with
		// a graph: the page counts what is known, not only what was seen.
		Known, Observed, Missing int
		WhatIf                   *depgraph.WhatIf
		WhatIfErr                string
		Country                  string
	}
	page.Drill = c.drillBanner()
	var graphs []*depgraph.Service
	if c.opts.Dependencies != nil {
		graphs = c.opts.Dependencies()
		page.Summary = depgraph.Summarize(graphs)
		slices.SortStableFunc(graphs, func(a, b *depgraph.Service) int { return cmp.Compare(b.Score, a.Score) })
	}
	var ids []string
	if c.opts.Targets != nil {
		for _, t := range c.opts.Targets() {
			ids = append(ids, t.ID)
		}
	}
	var done depgraph.WhatIf
	done.SetCompleteness(graphs, ids)
	page.Known, page.Observed, page.Missing = done.Total, done.Observed, done.Total-done.Observed
	page.Services = graphs[:min(len(graphs), depsShown)]
	if c.opts.Drift != nil {
		page.Drift = c.opts.Drift()
		if len(page.Drift) > 50 {
			page.Drift = page.Drift[:50]
		}
	}
	if q := r.URL.Query(); c.opts.WhatIf != nil && len(q) > 0 {
		page.Country = q.Get("country")
		if wi, err := c.opts.WhatIf(q); err != nil {
			page.WhatIfErr = err.Error()
		} else {
			page.WhatIf = wi
		}
	}
	c.render(w, "dependencies.html", page)
}

func (c *Console) dnsReport(w http.ResponseWriter, r *http.Request) {
	var page struct {
		Drill *drillView
		R     *zone.Report
		Top   []zone.ProviderRow
		Err   string
	}
	page.Drill = c.drillBanner()
	if c.opts.DNSReport == nil {
		page.Err = "No zone imported: run `bulwark zone import FILE`."
	} else if rep, err := c.opts.DNSReport(); err != nil {
		page.Err = err.Error()
	} else {
		page.R, page.Top = rep, rep.Providers[:min(len(rep.Providers), 30)]
	}
	if page.R == nil {
		page.R = &zone.Report{}
	}
	c.render(w, "dnsreport.html", page)
}

// Check is the newest result of one target from one vantage point.
type Check struct {
	Vantage  string
	Agent    string
	Up       bool
	Latency  float64 // seconds, of the newest run; 0 when not current
	Status   int     // HTTP status of the newest run; 0 when it had none
	CertDays float64 // days to certificate expiry, 0 when unknown
	// Reason is why the newest run failed (probe_failure_info), "" when up.
	Reason string
	// Age is how old the newest run is; Stale says it is older than the
	// target's probe interval: shown as stale, never as current.
	Age   time.Duration
	Stale bool
	at    int64 // ms of the newest run (the oldest of its checks')
}

// Service is one target with its checks.
type Service struct {
	Target      string
	Sector      string
	Criticality int // 1 most critical, 0 unset
	Checks      []Check
	// State is the vantage quorum's classification, as the API and the
	// alerts give it (up, down-everywhere, down-from-abroad-only,
	// down-from-home-only, down-on-one-vantage, partial, no-data), or
	// "unlisted" (an agent reports a target the collector does not list:
	// from the agent's own file, or pushed by a stolen token; never counted
	// as down).
	State string
	// Alerts are the firing alerts that name it.
	Alerts []Alert
}

// Down says whether s is down from at least one side.
func (s *Service) Down() bool { return rank(s.State) <= 1 }

// Sector groups services.
type Sector struct {
	Name     string
	Services []*Service
	Down     int // down everywhere
	Problems int // down somewhere or degraded
	NoData   int
}

// Overview gives the production state of every service at ts, by sector,
// each sector's services worst first. Drill series never count.
func (c *Console) Overview(ctx context.Context, ts time.Time) ([]*Sector, error) {
	services, err := c.collect(ctx, ts, "")
	if err != nil {
		return nil, err
	}
	return bySector(services), nil
}

// bySector groups services (in their order) by sector, sectors by name.
func bySector(services []*Service) []*Sector {
	idx := map[string]*Sector{}
	var out []*Sector
	for _, svc := range services {
		sec := idx[svc.Sector]
		if sec == nil {
			sec = &Sector{Name: svc.Sector}
			idx[svc.Sector] = sec
			out = append(out, sec)
		}
		sec.Services = append(sec.Services, svc)
		switch r := rank(svc.State); {
		case r == 0:
			sec.Down++
			sec.Problems++
		case r <= 2:
			sec.Problems++
		case r == 3:
			sec.NoData++
		}
	}
	slices.SortFunc(out, func(a, b *Sector) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
