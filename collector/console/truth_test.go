package console

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// world is a TSDB with helpers to write what agents push.
type world struct {
	t   *testing.T
	db  *tsdb.DB
	now time.Time
}

func newWorld(t *testing.T) *world {
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &world{t: t, db: db, now: time.Now().Truncate(time.Second)}
}

// add writes one sample ago before now; kv are label pairs.
func (w *world) add(ago time.Duration, v float64, kv ...string) {
	w.t.Helper()
	app := w.db.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings(kv...), w.now.Add(-ago).UnixMilli(), v); err != nil {
		w.t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		w.t.Fatal(err)
	}
}

// probe writes one http run of tgt from agent at vantage: success, status
// (0: none) and, when failed, reason; drill labels it with a drill.
func (w *world) probe(ago time.Duration, tgt, sector, agent, vantage string, up bool, status int, reason, drill string) {
	base := []string{"agent", agent, "vantage", vantage, "check", "http", "sector", sector, "target", tgt}
	if drill != "" {
		base = append(base, "drill", drill)
	}
	with := func(kv ...string) []string { return append(append([]string{}, base...), kv...) }
	v := 0.0
	if up {
		v = 1
	}
	w.add(ago, v, with("__name__", "probe_success")...)
	w.add(ago, 0.002, with("__name__", "probe_duration_seconds")...)
	if status != 0 {
		w.add(ago, float64(status), with("__name__", "probe_http_status_code")...)
	}
	if reason != "" {
		w.add(ago, 1, with("__name__", "probe_failure_info", "reason", reason)...)
	}
}

func (w *world) options(targets []target.Target) Options {
	return Options{Engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 100000, Timeout: 10 * time.Second}),
		Queryable: w.db, Now: func() time.Time { return w.now }, DefaultInterval: 30 * time.Second,
		Targets: func() []target.Target { return targets }}
}

// Issue 23: during a drill cutting XC the services page said "8 down from
// every vantage point" with red chips while every production probe was
// up. Production views count no drill series; every page shows the drill
// banner, and the drill's losses are only under it.
func TestDrillKeptApartFromProduction(t *testing.T) {
	w := newWorld(t)
	var targets []target.Target
	for i := range 8 {
		id := fmt.Sprintf("svc-%d", i)
		targets = append(targets, target.Target{ID: id, Sector: "energy"})
		for _, a := range []struct{ agent, vantage string }{{"home-1", "home"}, {"abroad-1", "abroad"}} {
			w.probe(10*time.Second, id, "energy", a.agent, a.vantage, true, 200, "", "")
			w.probe(10*time.Second, id, "energy", a.agent, a.vantage, false, 0, "drill_cut", "d-xc")
		}
	}
	opts := w.options(targets)
	opts.Drill = func() *Drill {
		return &Drill{ID: "d-xc", Scenario: "XC cut off", Cut: "country XC", Started: w.now.Add(-time.Minute), Ends: w.now.Add(time.Hour)}
	}
	opts.Alerting = func() AlertState {
		return AlertState{Enabled: true, Alerts: []Alert{{Name: "ServiceDownEverywhere", State: "firing", Severity: "page", Target: "svc-1", Drill: "d-xc"}}}
	}
	page := get(t, opts, "/")
	banner := regexp.MustCompile(`(?s)<div class="drill-banner".*?</div>`).FindString(page)
	production := strings.Replace(page, banner, "", 1)
	if banner == "" || !strings.Contains(banner, "DRILL RUNNING") || !strings.Contains(banner, "8 of 8 probed services lost") ||
		!strings.Contains(banner, "1 drill alert firing") || !strings.Contains(banner, `data-drill-target="svc-3"`) {
		t.Errorf("drill banner missing or wrong: %q", banner)
	}
	if !strings.Contains(production, "0 down everywhere") || !strings.Contains(production, "0 alerts firing") ||
		strings.Contains(production, "down-everywhere\">svc") || strings.Contains(production, `data-target="svc-`) {
		t.Errorf("production counted the drill:\n%s", production)
	}
	for _, p := range []string{"/services", "/alerts", "/dependencies", "/reports/dns"} {
		body := get(t, opts, p)
		if !strings.Contains(body, `id="drill-banner"`) {
			t.Errorf("%s: no drill banner", p)
		}
		if p == "/services" && (strings.Count(body, `data-state="up"`) != 8 || strings.Contains(body, `data-state="down`)) {
			t.Errorf("/services counts drill series:\n%s", body)
		}
	}
	if strings.Contains(get(t, w.options(targets), "/"), "drill-banner") {
		t.Error("a banner without a drill")
	}
}

// Issue 23: during the Cathay DNS outage gas-transport showed "down ·
// abroad 2 ms · HTTP 200": a status code two minutes old, not the reason
// (dns) the agents recorded. A down service shows its current failure
// reason; a value of an earlier run is not shown as current; a result
// older than the probe interval is shown as stale.
func TestOutageShowsReasonNotStaleValues(t *testing.T) {
	w := newWorld(t)
	targets := []target.Target{{ID: "gas-transport", Sector: "energy"}, {ID: "grid", Sector: "energy"}}
	w.probe(2*time.Minute, "gas-transport", "energy", "abroad-1", "abroad", true, 200, "", "")
	w.probe(10*time.Second, "gas-transport", "energy", "abroad-1", "abroad", false, 0, "dns", "")
	w.probe(2*time.Minute, "gas-transport", "energy", "home-1", "home", false, 0, "tls", "") // an old failure
	w.probe(10*time.Second, "gas-transport", "energy", "home-1", "home", false, 0, "dns", "")
	w.probe(3*time.Minute, "grid", "energy", "home-1", "home", true, 200, "", "") // silent since
	page := get(t, w.options(targets), "/services")
	row := regexp.MustCompile(`(?s)<tr data-target="gas-transport".*?</tr>`).FindString(page)
	if !strings.Contains(row, `data-state="down-everywhere"`) || !strings.Contains(row, `<span class="reason">dns</span>`) ||
		strings.Contains(row, "HTTP 200") || strings.Contains(row, "tls") {
		t.Errorf("gas-transport: want down-everywhere with reason dns and no HTTP 200:\n%s", row)
	}
	grid := regexp.MustCompile(`(?s)<tr data-target="grid".*?</tr>`).FindString(page)
	if !strings.Contains(grid, "home stale") || strings.Contains(grid, "HTTP 200") || strings.Contains(grid, `data-state="up"`) {
		t.Errorf("grid: a 3-minute-old result of a 30 s probe must show stale, not up with HTTP 200:\n%s", grid)
	}
}

// Issue 23: the console showed nuclear-safety as "partial" where the API
// classifies it down-from-abroad-only. The console uses the vantage
// quorum's classifier: the stored series when alerting writes it, the
// same function otherwise.
func TestClassificationAgreesWithAPI(t *testing.T) {
	w := newWorld(t)
	targets := []target.Target{{ID: "nuclear-safety", Sector: "energy"}, {ID: "stored", Sector: "energy"}}
	for _, a := range []struct {
		agent, vantage string
		up             bool
	}{{"home-1", "home", true}, {"home-2", "home", true}, {"abroad-1", "abroad", false}, {"abroad-2", "abroad", false}} {
		w.probe(10*time.Second, "nuclear-safety", "energy", a.agent, a.vantage, a.up, 0, "", "")
		w.probe(10*time.Second, "stored", "energy", a.agent, a.vantage, !a.up, 0, "", "")
	}
	// the rules wrote their classification of "stored": it wins
	w.add(5*time.Second, 2, "__name__", rule.AvailabilityMetric, "target", "stored", "sector", "energy", "classification", "down-from-home-only")
	votes := map[string]float64{"home-1": 1, "home-2": 1, "abroad-1": 0, "abroad-2": 0}
	vant := map[string]string{"home-1": "home", "home-2": "home", "abroad-1": "abroad", "abroad-2": "abroad"}
	want := rule.Builtin{}.WithDefaults().Classify(votes, vant)
	if want != "down-from-abroad-only" {
		t.Fatalf("the API classifies it %q", want)
	}
	page := get(t, w.options(targets), "/")
	for _, s := range []string{`data-target="nuclear-safety" data-state="` + want + `"`, `data-target="stored" data-state="down-from-home-only"`} {
		if !strings.Contains(page, s) {
			t.Errorf("overview lacks %s:\n%s", s, page)
		}
	}
}

// Issue 23: services were listed alphabetically, every one on one page.
// They are worst first by default (then criticality), filtered, searched
// and paged on the server.
func TestServicesSortFilterPage(t *testing.T) {
	w := newWorld(t)
	var targets []target.Target
	for i := range 250 {
		targets = append(targets, target.Target{ID: fmt.Sprintf("gov-%03d", i), Sector: "government"}) // no data
	}
	targets = append(targets,
		target.Target{ID: "a-up", Sector: "energy", Criticality: 1},
		target.Target{ID: "b-down-c3", Sector: "energy", Criticality: 3},
		target.Target{ID: "c-down-c1", Sector: "finance", Criticality: 1},
		target.Target{ID: "d-abroad", Sector: "finance", Criticality: 1},
		target.Target{ID: "e-partial", Sector: "energy", Criticality: 2})
	for _, p := range []struct {
		id        string
		home, abr bool
	}{{"a-up", true, true}, {"b-down-c3", false, false}, {"c-down-c1", false, false}, {"d-abroad", true, false}} {
		w.probe(5*time.Second, p.id, "x", "home-1", "home", p.home, 0, "", "")
		w.probe(5*time.Second, p.id, "x", "abroad-1", "abroad", p.abr, 0, "", "")
	}
	for _, a := range []struct {
		agent string
		up    bool
	}{{"home-1", true}, {"home-2", false}, {"abroad-1", true}} {
		vant := strings.TrimSuffix(a.agent, a.agent[len(a.agent)-2:])
		w.probe(5*time.Second, "e-partial", "energy", a.agent, vant, a.up, 0, "", "")
	}
	opts := w.options(targets)
	opts.PageSize = 100
	order := func(page string) []string {
		var ids []string
		for _, m := range regexp.MustCompile(`<tr data-target="([^"]+)"`).FindAllStringSubmatch(page, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}
	first := order(get(t, opts, "/services"))
	if len(first) != 100 || strings.Join(first[:6], " ") != "c-down-c1 b-down-c3 d-abroad e-partial gov-000 gov-001" {
		t.Errorf("page 1: %d rows, first %v", len(first), first[:min(6, len(first))])
	}
	if last := order(get(t, opts, "/services?page=3")); len(last) != 55 || last[len(last)-1] != "a-up" {
		t.Errorf("page 3: %d rows, want 55 ending with a-up: %v", len(last), last)
	}
	for q, want := range map[string]string{
		"state=down":                  "c-down-c1 b-down-c3 d-abroad",
		"state=problem&sector=energy": "b-down-c3 e-partial",
		"q=ABROAD":                    "d-abroad",
		"state=up":                    "a-up",
	} {
		if got := strings.Join(order(get(t, opts, "/services?"+q)), " "); got != want {
			t.Errorf("?%s: %q, want %q", q, got, want)
		}
	}
	page := get(t, opts, "/services?state=no-data&page=2")
	if !strings.Contains(page, `rel="prev" href="/services?page=1&amp;state=no-data"`) &&
		!strings.Contains(page, `rel="prev" href="/services?state=no-data"`) {
		t.Errorf("page 2 of no-data: no link back to page 1")
	}
	if !strings.Contains(page, `rel="next" href="/services?page=3&amp;state=no-data"`) {
		t.Errorf("page 2 of no-data: no link to page 3:\n%s", regexp.MustCompile(`(?s)<p class="pager">.*?</p>`).FindString(page))
	}
	// the overview is problems and sector tiles, not every row
	if ov := get(t, opts, "/"); strings.Count(ov, "data-target=") != 4 || !strings.Contains(ov, `id="sector-government"`) {
		t.Errorf("overview lists %d rows, want the 4 problems", strings.Count(ov, "data-target="))
	}
}

// Issue 23: after the .gov import the dependencies page said "0
// services", and the what-if answered from incomplete graphs without
// saying so.
func TestDependenciesCountKnownAndWhatIfCompleteness(t *testing.T) {
	w := newWorld(t)
	var targets []target.Target
	for i := range 24 {
		targets = append(targets, target.Target{ID: fmt.Sprintf("s%02d", i), Sector: "energy"})
	}
	graphs := make([]*depgraph.Service, 11)
	for i := range graphs {
		graphs[i] = &depgraph.Service{Target: fmt.Sprintf("s%02d", i), Sector: "energy"}
	}
	opts := w.options(targets)
	opts.Dependencies = func() []*depgraph.Service { return graphs }
	opts.WhatIf = func(q url.Values) (*depgraph.WhatIf, error) {
		wi := depgraph.Evaluate(graphs, depgraph.Cut{Countries: []string{q.Get("country")}}, nil)
		wi.SetCompleteness(graphs, func() []string {
			var ids []string
			for _, t := range targets {
				ids = append(ids, t.ID)
			}
			return ids
		}())
		return wi, nil
	}
	page := get(t, opts, "/dependencies")
	if !strings.Contains(page, "24 services · graphs for 11 of 24; 13 not yet observed") {
		t.Errorf("dependencies page does not count the known services:\n%s", regexp.MustCompile(`(?s)<p id="completeness">.*?</p>`).FindString(page))
	}
	page = get(t, opts, "/dependencies?country=XC")
	if !strings.Contains(page, "graphs for 11 of 24 services; 13 not yet observed") {
		t.Errorf("what-if has no completeness line:\n%s", regexp.MustCompile(`(?s)<section id="whatif">.*?</section>`).FindString(page))
	}
}
