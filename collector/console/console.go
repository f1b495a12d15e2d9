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
	"slices"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/collector/zone"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/target"
)

//go:embed templates/*.html
var templates embed.FS

// Options configure the console.
type Options struct {
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
}

// Console renders the pages.
type Console struct {
	opts Options
	tmpl *template.Template
	csp  string // the Content-Security-Policy of every page
}

// New parses the templates and returns a Console.
func New(opts Options) (*Console, error) {
	if opts.Engine == nil || opts.Queryable == nil {
		return nil, errors.New("console: Engine and Queryable are required")
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

func (c *Console) dependencies(w http.ResponseWriter, r *http.Request) {
	var page struct {
		Services []*depgraph.Service
		Summary  []depgraph.LayerSummary
		Drift    []depgraph.Drift
	}
	if c.opts.Dependencies != nil {
		page.Services = c.opts.Dependencies()
		page.Summary = depgraph.Summarize(page.Services)
		slices.SortStableFunc(page.Services, func(a, b *depgraph.Service) int { return cmp.Compare(b.Score, a.Score) })
	}
	if c.opts.Drift != nil {
		page.Drift = c.opts.Drift()
		if len(page.Drift) > 50 {
			page.Drift = page.Drift[:50]
		}
	}
	c.render(w, "dependencies.html", page)
}

func (c *Console) dnsReport(w http.ResponseWriter, r *http.Request) {
	var page struct {
		R   *zone.Report
		Top []zone.ProviderRow
		Err string
	}
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

// Check is the last result of one target from one vantage point.
type Check struct {
	Vantage  string
	Agent    string
	Up       bool
	Latency  float64 // seconds
	Status   int
	CertDays float64 // days to certificate expiry, 0 when unknown
}

// Service is one target with its checks.
type Service struct {
	Target string
	Checks []Check
	// State is "up" (every vantage up), "partial", "down", "no-data"
	// (no agent has reported it within two minutes), or "unlisted" (an
	// agent reports a target the collector does not list: from the agent's
	// own file, or pushed by a stolen token; never counted as down).
	State string
	// Alerts are the firing alerts that name it.
	Alerts []Alert
}

// Sector groups services.
type Sector struct {
	Name     string
	Services []*Service
	Down     int
}

type overviewPage struct {
	Now      time.Time
	Sectors  []*Sector
	Services int
	Down     int
	Firing   int
	Err      string
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	page := overviewPage{Now: c.opts.Now().UTC()}
	sectors, err := c.Overview(r.Context(), page.Now)
	if err != nil {
		page.Err = err.Error()
		c.opts.Logger.Error("console: overview", "err", err)
	}
	page.Sectors = sectors
	firing := map[string][]Alert{}
	for _, a := range c.alertState().Alerts {
		if a.State == "firing" {
			page.Firing++
			if a.Target != "" {
				firing[a.Target] = append(firing[a.Target], a)
			}
		}
	}
	for _, s := range sectors {
		page.Services += len(s.Services)
		page.Down += s.Down
		for _, svc := range s.Services {
			svc.Alerts = firing[svc.Target]
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.tmpl.ExecuteTemplate(w, "overview.html", page); err != nil {
		c.opts.Logger.Error("console: render", "err", err)
	}
}

// Overview evaluates the state of every probed service at ts, by sector.
func (c *Console) Overview(ctx context.Context, ts time.Time) ([]*Sector, error) {
	// A vantage point sees a service up when every check of it passed.
	up, err := c.instant(ctx, `min by (sector, target, agent, vantage) (last_over_time(probe_success{check!="deps"}[2m]))`, ts)
	if err != nil {
		return nil, err
	}
	lat, err := c.instant(ctx, `max by (target, agent) (last_over_time(probe_duration_seconds{check="http"}[2m]))`, ts)
	if err != nil {
		return nil, err
	}
	status, err := c.instant(ctx, `max by (target, agent) (last_over_time(probe_http_status_code[2m]))`, ts)
	if err != nil {
		return nil, err
	}
	expiry, err := c.instant(ctx, `min by (target, agent) (last_over_time(probe_ssl_earliest_cert_expiry[2m]))`, ts)
	if err != nil {
		return nil, err
	}
	key := func(s promql.Sample) string {
		return s.Metric.Get("target") + "\x00" + s.Metric.Get("agent")
	}
	index := func(v promql.Vector) map[string]float64 {
		m := make(map[string]float64, len(v))
		for _, s := range v {
			m[key(s)] = s.F
		}
		return m
	}
	latBy, statusBy, expBy := index(lat), index(status), index(expiry)
	bySector := map[string]*Sector{}
	byTarget := map[string]*Service{}
	for _, s := range up {
		sec, tgt := s.Metric.Get("sector"), s.Metric.Get("target")
		if bySector[sec] == nil {
			bySector[sec] = &Sector{Name: sec}
		}
		svc := byTarget[tgt]
		if svc == nil {
			svc = &Service{Target: tgt}
			byTarget[tgt] = svc
			bySector[sec].Services = append(bySector[sec].Services, svc)
		}
		k := key(s)
		ch := Check{Vantage: s.Metric.Get("vantage"), Agent: s.Metric.Get("agent"), Up: s.F == 1,
			Latency: latBy[k], Status: int(statusBy[k])}
		if e, ok := expBy[k]; ok {
			ch.CertDays = time.Unix(int64(e), 0).Sub(ts).Hours() / 24
		}
		svc.Checks = append(svc.Checks, ch)
	}
	var listed map[string]bool
	if c.opts.Targets != nil {
		listed = map[string]bool{}
		for _, t := range c.opts.Targets() {
			listed[t.ID] = true
			if byTarget[t.ID] != nil {
				continue
			}
			if bySector[t.Sector] == nil {
				bySector[t.Sector] = &Sector{Name: t.Sector}
			}
			svc := &Service{Target: t.ID, State: "no-data"}
			byTarget[t.ID] = svc
			bySector[t.Sector].Services = append(bySector[t.Sector].Services, svc)
		}
	}
	var out []*Sector
	for _, sec := range bySector {
		for _, svc := range sec.Services {
			slices.SortFunc(svc.Checks, func(a, b Check) int { return cmp.Compare(a.Vantage+a.Agent, b.Vantage+b.Agent) })
			ups := 0
			for _, ch := range svc.Checks {
				if ch.Up {
					ups++
				}
			}
			switch {
			case len(svc.Checks) == 0: // no data: its state stays "no-data"
			case listed != nil && !listed[svc.Target]:
				svc.State = "unlisted"
			case ups == len(svc.Checks):
				svc.State = "up"
			case ups == 0:
				svc.State = "down"
				sec.Down++
			default:
				svc.State = "partial"
			}
		}
		slices.SortFunc(sec.Services, func(a, b *Service) int { return cmp.Compare(a.Target, b.Target) })
		out = append(out, sec)
	}
	slices.SortFunc(out, func(a, b *Sector) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func (c *Console) instant(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
	qry, err := c.opts.Engine.NewInstantQuery(ctx, c.opts.Queryable, nil, q, ts)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("query %s: %w", q, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", q, err)
	}
	return slices.Clone(v), nil
}
