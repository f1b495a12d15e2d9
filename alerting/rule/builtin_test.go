package rule

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
	"gopkg.in/yaml.v3"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// world is a TSDB, an engine and a Manager whose groups the test
// evaluates by hand at simulated times.
type world struct {
	db       *tsdb.DB
	mgr      *Manager
	restored bool
}

func newWorld(t *testing.T, b Builtin, targets []TargetInfo, files ...string) *world {
	return newWorldAgents(t, b, targets, nil, files...)
}

func newWorldAgents(t *testing.T, b Builtin, targets []TargetInfo, agents func() []AgentInfo, files ...string) *world {
	t.Helper()
	o := tsdb.DefaultOptions()
	o.OutOfOrderTimeWindow = (24 * time.Hour).Milliseconds()
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e7, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute})
	mgr, err := New(Options{Engine: engine, Storage: db, Dir: t.TempDir(), Interval: 15 * time.Second, Builtin: b, Files: files,
		Targets: func() []TargetInfo { return targets }, Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	return &world{db: db, mgr: mgr}
}

func (w *world) add(t *testing.T, ts time.Time, v float64, kv ...string) {
	t.Helper()
	app := w.db.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings(kv...), ts.UnixMilli(), v); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (w *world) eval(ts time.Time) {
	for _, g := range w.mgr.Groups() {
		w.mgr.evalIteration(context.Background(), g, ts)
		if !w.restored {
			g.RestoreForState(ts) // as a group's first run does; from then on ALERTS are written
		}
	}
	w.restored = true
}

// firingCount counts the firing alerts.
func (w *world) firingCount() int {
	n := 0
	for _, r := range w.mgr.AlertingRules() {
		for _, a := range r.ActiveAlerts() {
			if a.State == rules.StateFiring {
				n++
			}
		}
	}
	return n
}

// firing lists the firing alerts as "Name{label=value,...}" for the labels asked.
func (w *world) firing(keys ...string) []string {
	var out []string
	for _, r := range w.mgr.AlertingRules() {
		for _, a := range r.ActiveAlerts() {
			if a.State != rules.StateFiring {
				continue
			}
			var parts []string
			for _, k := range keys {
				if v := a.Labels.Get(k); v != "" {
					parts = append(parts, k+"="+v)
				}
			}
			out = append(out, r.Name()+"{"+strings.Join(parts, ",")+"}")
		}
	}
	slices.Sort(out)
	return out
}

// The vantage quorum classifies each outage; a silent agent is news and
// does not vote; a target no agent reports has no data; certificates warn
// by criticality; a provider change that persists is drift, a flap is not.
func TestBuiltinRules(t *testing.T) {
	b := Builtin{VoteWindow: configfile.Duration(time.Minute), DownFor: DurationOf(30 * time.Second), DriftFor: configfile.Duration(time.Minute)}
	targets := []TargetInfo{{ID: "fine", Sector: "finance", Criticality: 1, Interval: 15 * time.Second},
		{ID: "imported", Sector: "government", Criticality: 2, Interval: 15 * time.Second}}
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	now := start
	// home-3 pushed once, at the start, and fell silent.
	agents := func() []AgentInfo {
		return []AgentInfo{{"home-1", "home", now}, {"home-2", "home", now}, {"abroad-1", "abroad", now}, {"home-3", "home", start}}
	}
	w := newWorldAgents(t, b, targets, agents)
	votes := map[string][3]float64{ // home-1, home-2, abroad-1
		"everywhere":  {0, 0, 0},
		"abroad-only": {1, 1, 0},
		"home-only":   {0, 0, 1},
		"one-vantage": {0, 1, 1},
		"fine":        {1, 1, 1},
	}
	voters := [3][2]string{{"home-1", "home"}, {"home-2", "home"}, {"abroad-1", "abroad"}}
	for i := 0; i <= 20; i++ { // five minutes, every 15 s
		ts := start.Add(time.Duration(i) * 15 * time.Second)
		now = ts
		for tgt, v := range votes {
			for j, ag := range voters {
				w.add(t, ts, v[j], "__name__", "probe_success", "target", tgt, "sector", "finance", "check", "http", "agent", ag[0], "vantage", ag[1])
			}
		}
		if i == 0 { // an agent that reports once and falls silent
			w.add(t, ts, 1, "__name__", "probe_success", "target", "fine", "sector", "finance", "check", "http", "agent", "home-3", "vantage", "home")
		}
		w.add(t, ts, float64(ts.Add(5*24*time.Hour).Unix()), "__name__", "probe_ssl_earliest_cert_expiry", "target", "fine", "sector", "finance", "check", "tls", "agent", "home-1", "vantage", "home")
		// water-utility's DNS moves abroad after two minutes and stays.
		dns := []string{"arcanet", "XA"}
		if i >= 8 {
			dns = []string{"cathaydns", "XC"}
		}
		w.add(t, ts, 1, "__name__", "bulwark_dependency_info", "target", "water-utility", "sector", "energy", "layer", "dns", "provider", dns[0], "jurisdiction", dns[1])
		// heat-network's page flaps: its subresource provider comes and goes.
		if i%4 != 1 {
			w.add(t, ts, 1, "__name__", "bulwark_dependency_info", "target", "heat-network", "sector", "energy", "layer", "subresource", "provider", "cdnco", "jurisdiction", "XB")
		}
		w.eval(ts)
	}
	got := w.firing("target", "agent", "classification", "provider")
	want := []string{
		"AgentSilent{agent=home-3,classification=agent-silent}",
		"CertificateExpiring{target=fine,classification=certificate-expiring}",
		"DependencyDrift{target=water-utility,classification=drift,provider=cathaydns}",
		"ServiceDownEverywhere{target=everywhere,classification=down-everywhere}",
		"ServiceDownFromAbroadOnly{target=abroad-only,classification=down-from-abroad-only}",
		"ServiceDownFromHomeOnly{target=home-only,classification=down-from-home-only}",
		"ServiceDownOnOneVantage{target=one-vantage,agent=home-1,classification=down-on-one-vantage}",
		"TargetNoData{target=imported,classification=no-data}",
	}
	if !slices.Equal(got, want) {
		t.Errorf("firing:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	// ALERTS and ALERTS_FOR_STATE are written as in Prometheus.
	q, _ := w.db.Querier(start.UnixMilli(), start.Add(10*time.Minute).UnixMilli())
	defer q.Close()
	for _, name := range []string{"ALERTS", "ALERTS_FOR_STATE"} {
		set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name),
			labels.MustNewMatcher(labels.MatchEqual, "alertname", "ServiceDownFromAbroadOnly"))
		if !set.Next() {
			all := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "ALERTS.*"))
			n := 0
			for all.Next() {
				n++
			}
			t.Errorf("no %s series for ServiceDownFromAbroadOnly (%d ALERTS* series, err %v)", name, n, all.Err())
		}
	}
}

// Turned-off built-ins are not evaluated; operator rule files are, with
// their errors reported by file and line before anything changes.
func TestDisabledAndOperatorRules(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.rules.yml"
	writeFile(t, good, "groups:\n  - name: mine\n    rules:\n      - alert: PortalDown\n        expr: probe_success{target=\"portal\"} == 0\n        for: 1m\n        labels: {severity: page}\n")
	w := newWorld(t, Builtin{Disabled: []string{"LatencyAboveObjective"}}, nil, good)
	var names []string
	for _, r := range w.mgr.AlertingRules() {
		names = append(names, r.Name())
	}
	if slices.Contains(names, "LatencyAboveObjective") || !slices.Contains(names, "PortalDown") || !slices.Contains(names, "ServiceDownEverywhere") {
		t.Fatalf("rules in force: %v", names)
	}
	bad := dir + "/bad.rules.yml"
	writeFile(t, bad, "groups:\n  - name: mine\n    rules:\n      - alert: Broken\n        expr: sum(\n      - alert: Worse\n        expr: up\n        for: soon\n")
	err := w.mgr.Update(Builtin{}, []string{good, bad})
	if err == nil || !strings.Contains(err.Error(), "bad.rules.yml") {
		t.Fatalf("bad file: %v", err)
	}
	t.Log(err)
	if err := w.mgr.Update(Builtin{Disabled: []string{"NoSuchAlert"}}, nil); err == nil {
		t.Fatal("an unknown built-in alert was disabled without error")
	}
	names = names[:0]
	for _, r := range w.mgr.AlertingRules() {
		names = append(names, r.Name())
	}
	if !slices.Contains(names, "PortalDown") {
		t.Fatalf("a failed update changed the rules in force: %v", names)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := writeFileErr(path, s); err != nil {
		t.Fatal(err)
	}
}

func writeFileErr(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// benchWorld holds 10,000 services probed from two vantage points (http
// and tls each, and a latency) every 30 s for five minutes: down abroad
// where downAbroad says so. It returns the world and the time after the
// last sample; with eval, the group was evaluated at each step.
func benchWorld(b *testing.B, services int, downAbroad func(i int) bool, eval bool) (*world, time.Time) {
	var targets []TargetInfo
	for i := range services {
		targets = append(targets, TargetInfo{ID: fmt.Sprintf("svc-%05d", i), Sector: "finance", Criticality: 1 + i%3, Interval: 30 * time.Second})
	}
	w := newWorld(&testing.T{}, Builtin{}, targets)
	start := time.Now().Add(-20 * time.Minute).Truncate(time.Second)
	for step := range 10 {
		ts := start.Add(time.Duration(step) * 30 * time.Second)
		app := w.db.Appender(context.Background())
		for i := range services {
			id := fmt.Sprintf("svc-%05d", i)
			for _, ag := range [][2]string{{"home-1", "home"}, {"abroad-1", "abroad"}} {
				v := 1.0
				if ag[1] == "abroad" && downAbroad(i) {
					v = 0
				}
				for _, check := range []string{"http", "tls"} {
					app.Append(0, labels.FromStrings("__name__", "probe_success", "agent", ag[0], "check", check, "sector", "finance", "target", id, "vantage", ag[1]), ts.UnixMilli(), v)
				}
				app.Append(0, labels.FromStrings("__name__", "probe_duration_seconds", "agent", ag[0], "check", "http", "sector", "finance", "target", id, "vantage", ag[1]), ts.UnixMilli(), 0.2)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		if eval {
			w.eval(ts)
		}
	}
	return w, start.Add(10 * 30 * time.Second)
}

// BenchmarkBuiltinCycle evaluates the built-in group once over 10,000
// services, a tenth of them down from abroad (1,000 firing alerts), and
// prints the time of each step of the cycle.
func BenchmarkBuiltinCycle(b *testing.B) {
	w, ts := benchWorld(b, 10_000, func(i int) bool { return i%10 == 0 }, true)
	g := w.group(BuiltinGroup)
	b.ResetTimer()
	var info, avail time.Duration
	for b.Loop() {
		t0 := time.Now()
		w.mgr.writeTargetInfo(context.Background(), ts)
		t1 := time.Now()
		w.mgr.writeAvailability(context.Background(), ts, nil)
		info, avail = info+t1.Sub(t0), avail+time.Since(t1)
		rules.DefaultEvalIterationFunc(context.Background(), g, ts)
	}
	b.StopTimer()
	b.ReportMetric(float64(w.firingCount()), "alerts")
	lines := []string{fmt.Sprintf("%-28s %v", "(target info series)", info/time.Duration(b.N)),
		fmt.Sprintf("%-28s %v", "(availability tally)", avail/time.Duration(b.N))}
	for _, r := range g.Rules() {
		lines = append(lines, fmt.Sprintf("%-28s %v", r.Name(), r.GetEvaluationDuration()))
	}
	fmt.Fprintln(os.Stderr, strings.Join(lines, "\n"))
}

// group is the rule group of that name.
func (w *world) group(name string) *rules.Group {
	for _, g := range w.mgr.Groups() {
		if g.Name() == name {
			return g
		}
	}
	return nil
}

// BenchmarkArrivalTally is the availability group's evaluation when the
// results of 170 of 10,000 services arrived since the last (10,000
// services probed every minute, tallied every second): their re-tally and
// the availability rules.
func BenchmarkArrivalTally(b *testing.B) {
	for _, every := range []int{10, 0} { // a tenth of the services down abroad, or none
		b.Run(fmt.Sprintf("firing=%d", map[int]int{10: 1000, 0: 0}[every]), func(b *testing.B) {
			w, ts := benchWorld(b, 10_000, func(i int) bool { return every > 0 && i%every == 0 }, true)
			g := w.group(AvailabilityGroup)
			arrived := make([]string, 0, 170)
			for i := range 170 {
				arrived = append(arrived, fmt.Sprintf("svc-%05d", i*58))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w.mgr.Arrived(arrived)
				w.mgr.evalIteration(context.Background(), g, ts)
				ts = ts.Add(time.Millisecond)
			}
		})
	}
}

// BenchmarkFiringAlertsMemory measures the heap that 10,000 firing alerts
// take: the rule manager's alert state, the series it writes for them
// (availability, ALERTS, ALERTS_FOR_STATE) in the TSDB head, and the
// dispatcher holding them in one group. Reported per alert.
func BenchmarkFiringAlertsMemory(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		b.StopTimer()
		w, ts := benchWorld(b, n, func(int) bool { return true }, false)
		d, err := alerting.NewDispatcher(alerting.DispatcherOptions{Log: &alerting.MemLog{},
			Routes:    []alerting.Route{{Receiver: "duty", GroupBy: []string{"classification"}}},
			Receivers: map[string]alerting.Receiver{"duty": nopReceiver{}}})
		if err != nil {
			b.Fatal(err)
		}
		w.mgr.opts.Notify = func(_ context.Context, al []*rules.Alert) { d.Add(alerting.FromRules(al)) }
		before := heapAlloc()
		b.StartTimer()
		w.eval(ts.Add(-time.Minute))
		w.eval(ts) // down_for later: firing, and sent
		b.StopTimer()
		rulesAndDispatcher := heapAlloc() - before
		if got := w.firingCount(); got != n {
			b.Fatalf("%d alerts firing, want %d", got, n)
		}
		if got := len(d.Incidents()); got != 1 {
			b.Fatalf("the dispatcher holds %d groups, want 1", got)
		}
		b.ReportMetric(float64(rulesAndDispatcher)/n, "heap-B/alert")
		b.ReportMetric(float64(rulesAndDispatcher)/(1<<20), "heap-MiB")
		runtime.KeepAlive(d)
		b.StartTimer()
	}
}

type nopReceiver struct{}

func (nopReceiver) Notify(context.Context, *alerting.Notification) (bool, error) { return false, nil }

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// down_for absent is a minute; an explicit 0s fires at the first
// evaluation that sees the classification.
func TestDownForZero(t *testing.T) {
	for yml, want := range map[string]string{"{}": "for: 60s", "{down_for: 0s}": "", "{down_for: 45s}": "for: 45s"} {
		var b Builtin
		if err := yaml.Unmarshal([]byte(yml), &b); err != nil {
			t.Fatal(err)
		}
		out, err := b.File(15 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var f fileGroups
		if err := yaml.Unmarshal(out, &f); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, g := range f.Groups { // the availability alerts have a group of their own
			for _, r := range g.Rules {
				if r.Alert == "ServiceDownEverywhere" && r.For != "" {
					got = "for: " + r.For
				}
			}
		}
		if got != want {
			t.Errorf("%s: ServiceDownEverywhere %q, want %q", yml, got, want)
		}
	}
}
