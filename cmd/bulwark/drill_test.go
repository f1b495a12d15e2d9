package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/playbooks/report"
)

// drillWorld is the demo world with a collector and two agents at a
// test's pace: probes every 2s, agents polling the collector every second.
type drillWorld struct {
	world      *demo.World
	cfg        collectorconfig.Config
	agents     *auth.Agents
	users      *auth.Users
	app        *collector.App
	addr       string
	base       string
	opFile     string
	home, away *agent.Agent
	prod, desk *hookLog // production and drill-desk webhooks
	stopAgents context.CancelFunc
	agentsDone sync.WaitGroup
}

// hookLog records what a webhook receiver was sent.
type hookLog struct {
	mu     sync.Mutex
	bodies []string
}

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	h.bodies = append(h.bodies, string(b))
	h.mu.Unlock()
}

func (h *hookLog) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.bodies, "\n")
}

func startDrillWorld(t *testing.T) *drillWorld {
	t.Helper()
	dir := t.TempDir()
	w, err := demo.Start(demo.Options{Dir: dir, DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	dw := &drillWorld{world: w, agents: auth.NewAgents(), users: auth.NewUsers(), prod: &hookLog{}, desk: &hookLog{}}
	prodSrv, deskSrv := httptest.NewServer(dw.prod), httptest.NewServer(dw.desk)
	t.Cleanup(prodSrv.Close)
	t.Cleanup(deskSrv.Close)
	tokens := map[string]string{"home-1": "home-token", "abroad-1": "abroad-token"}
	dw.agents.Add("home-token", auth.Identity{Agent: "home-1", Vantage: "home", Country: "XA"})
	dw.agents.Add("abroad-token", auth.Identity{Agent: "abroad-1", Vantage: "abroad", Country: "XC"})
	dw.users.Add("op-token", false, auth.User{ID: "planner", Role: auth.RoleOperator})
	dw.users.Add("viewer-token", false, auth.User{ID: "grafana", Role: auth.RoleViewer})
	dw.opFile = filepath.Join(dir, "op.token")
	os.WriteFile(dw.opFile, []byte("op-token\n"), 0o600)
	pb := filepath.Join(dir, "dns-lost.yml")
	os.WriteFile(pb, []byte(`name: dns-provider-lost
owner: cert-duty
triggers:
  - manual: true
steps:
  - name: tell
    notify: {receiver: drill-desk, text: "Drill {{ .Drill }}: a DNS provider is lost; failing over."}
  - name: failover
    http: {method: POST, url: "http://127.0.0.1:9/failover", expect_status: [200]}
`), 0o600)
	var targets []target.Target
	rto := map[int]time.Duration{1: time.Hour, 2: 4 * time.Hour, 3: 24 * time.Hour}
	for _, s := range w.Services {
		tg := target.Target{ID: s.ID, Name: s.Name, Sector: s.Sector, Criticality: s.Criticality, URL: s.URL,
			Timeout: configfile.Duration(3 * time.Second), RTO: configfile.Duration(rto[s.Criticality])}
		if s.ID == "pension-fund" {
			tg.RTO = configfile.Duration(5 * time.Minute) // it fails over during the drill
		}
		targets = append(targets, tg)
	}
	cfg := collectorconfig.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Targets = targets
	cfg.Attribution.GeoDir = w.GeoDir
	cfg.Attribution.CatalogFiles = []string{w.CatalogFile}
	cfg.Attribution.Policy = attrib.Policy{Home: "XA", Trusted: []string{"XB"}}
	cfg.Attribution.Interval = configfile.Duration(2 * time.Second)
	cfg.Playbooks.Files = []string{pb}
	cfg.Alerting.EvaluationInterval = configfile.Duration(time.Second)
	cfg.Alerting.DefaultProbeInterval = configfile.Duration(2 * time.Second)
	cfg.Alerting.Builtin.VoteWindow = configfile.Duration(6 * time.Second)
	cfg.Alerting.Builtin.DownFor = rule.DurationOf(2 * time.Second)
	cfg.Alerting.Receivers = []collectorconfig.Receiver{{Name: "prod", Webhook: &collectorconfig.WebhookReceiver{URL: prodSrv.URL}},
		{Name: "drill-desk", Webhook: &collectorconfig.WebhookReceiver{URL: deskSrv.URL}}}
	cfg.Alerting.Routes = []alerting.Route{{Receiver: "prod", GroupBy: []string{"alertname", "target"}, GroupWait: configfile.Duration(time.Second)}}
	cfg.Alerting.DrillRoute = &alerting.Route{Receiver: "drill-desk", GroupWait: configfile.Duration(time.Second)}
	cfg.Storage.SelfMetricsInterval = configfile.Duration(time.Second)
	dw.cfg = cfg
	dw.startCollector(t, "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	dw.stopAgents = cancel
	for id, src := range map[string]string{"home-1": demo.HomeSource().String(), "abroad-1": demo.AbroadSource().String()} {
		ac := agentconfig.Default()
		ac.Collector.URL = dw.base
		ac.Collector.AgentID = id
		ac.Collector.PullTargets = true
		ac.Collector.PullInterval = configfile.Duration(time.Second)
		ac.Network = agentconfig.Network{Resolver: w.DNS.Addr, SourceAddress: src}
		ac.Queue.Dir = filepath.Join(dir, "queue-"+id)
		ac.Defaults.Schedule = "@every 2s"
		ac.Defaults.DepsSchedule = "@every 2s"
		ac.Collector.SelfMetricsInterval = configfile.Duration(time.Second)
		a, err := agent.New(agent.Options{Config: &ac, Token: tokens[id], RootCAs: w.Roots, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		if id == "home-1" {
			dw.home = a
		} else {
			dw.away = a
		}
		dw.agentsDone.Go(func() { a.Run(ctx) })
	}
	t.Cleanup(func() { dw.stopAgents(); dw.agentsDone.Wait() })
	return dw
}

func (dw *drillWorld) startCollector(t *testing.T, addr string) {
	t.Helper()
	cfg := dw.cfg
	app, err := collector.New(collector.Options{Config: &cfg, Agents: dw.agents, Users: dw.users})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	dw.app, dw.addr, dw.base = app, app.Addr(), "http://"+app.Addr()
	t.Cleanup(func() { app.Stop(context.Background()) })
}

// query runs an instant PromQL query and returns target -> value.
func (dw *drillWorld) query(t *testing.T, q string) map[string]float64 {
	t.Helper()
	var res struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	b, err := request(t.Context(), http.MethodGet, dw.base, "/api/v1/query?query="+url.QueryEscape(q), dw.opFile, nil)
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	json.Unmarshal(b, &res)
	out := map[string]float64{}
	for _, r := range res.Data.Result {
		var v float64
		fmt.Sscan(r.Value[1].(string), &v)
		out[r.Metric["target"]] = v
	}
	return out
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (dw *drillWorld) cli(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--collector", dw.base, "--token-file", dw.opFile)
	if err := run(t.Context(), args, &out, &errb); err != nil {
		t.Fatalf("bulwark %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestDrillOnDemoWorld cuts the foreign DNS provider several services
// share. The services it serves go down in the drill's series only, the
// production on-call hears nothing, the playbook runs in drill mode, one
// service fails over and recovers, the collector dies mid-drill and the
// agents still end it on time, and the report lists what the what-if
// predicted, signed.
func TestDrillOnDemoWorld(t *testing.T) {
	t.Parallel()
	dw := startDrillWorld(t)
	lostSet := []string{"elections", "gas-transport", "pension-fund", "stock-exchange", "tax-office"} // Cathay DNS serves them
	eventually(t, 60*time.Second, "the dependency graphs hold Cathay DNS", func() bool {
		var deps []struct {
			Target string
			Layers []struct {
				Layer     string
				Providers []string
			}
		}
		if callAPI(t.Context(), http.MethodGet, dw.base, "/api/v1/dependencies", dw.opFile, nil, &deps) != nil {
			return false
		}
		n := 0
		for _, d := range deps {
			for _, l := range d.Layers {
				if l.Layer == "dns" && strings.Contains(strings.Join(l.Providers, ","), "cathaydns") {
					n++
				}
			}
		}
		return n == len(lostSet)
	})

	// Agents push their own health, and the collector stores its own: one data source for dashboards.
	eventually(t, 10*time.Second, "agents' and the collector's own metrics are in the store", func() bool {
		q := dw.query(t, `count by (agent) (bulwark_agent_queue_pending_samples)`)
		return len(dw.query(t, `bulwark_agent_queue_pending_samples{agent="home-1",vantage="home"}`)) == 1 &&
			len(dw.query(t, `bulwark_agent_queue_pending_samples{agent="abroad-1"}`)) == 1 && len(q) > 0 &&
			len(dw.query(t, `bulwark_ingest_requests_total`)) > 0
	})

	// An unknown provider is an error with near matches, not a drill of nothing.
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"drill", "start", "--cut", "provider=cathay-dnz", "--for", "1m", "--collector", dw.base, "--token-file", dw.opFile}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "cathaydns") {
		t.Fatalf("drill of an unknown provider: %v", err)
	}

	started := time.Now()
	got := dw.cli(t, "drill", "start", "--cut", "provider=Cathay DNS", "--for", "40s", "--playbook", "dns-provider-lost")
	id := strings.Fields(strings.TrimPrefix(got, "drill "))[0]
	id = strings.TrimSuffix(id, ":")
	if !strings.Contains(got, "predicted: 5 lost") {
		t.Fatalf("drill start said:\n%s", got)
	}
	eventually(t, 5*time.Second, "both agents enforce the cut", func() bool { return dw.home.Drill() != nil && dw.away.Drill() != nil })
	t.Logf("drill %s: both agents enforce the cut %.2fs after the start (poll interval 1s)", id, time.Since(started).Seconds())

	// Down in the drill's series, from both vantages; up in production.
	eventually(t, 30*time.Second, "the cut services are down in the drill series", func() bool {
		down := dw.query(t, fmt.Sprintf(`max by (target) (probe_success{drill=%q,check="http"}) == 0`, id))
		for _, tg := range lostSet {
			if _, ok := down[tg]; !ok {
				return false
			}
		}
		return true
	})
	down := dw.query(t, fmt.Sprintf(`max by (target) (probe_success{drill=%q,check="http"}) == 0`, id))
	for _, tg := range lostSet {
		if _, ok := down[tg]; !ok {
			t.Errorf("%s is not down under the drill: %v", tg, down)
		}
	}
	if t.Failed() {
		b, _ := request(t.Context(), http.MethodGet, dw.base, "/api/v1/query?query="+url.QueryEscape(`probe_failure_info{drill!="",target=~"pension-fund|nuclear-safety"} or probe_success{target=~"pension-fund|nuclear-safety",check="http"}`), dw.opFile, nil)
		t.Fatalf("%s", b)
	}
	if prodUp := dw.query(t, `min by (target) (probe_success{drill="",check="http",target=~"tax-office|elections"})`); prodUp["tax-office"] != 1 || prodUp["elections"] != 1 {
		t.Errorf("production probes saw the drill's cut: %v", prodUp)
	}
	eventually(t, 30*time.Second, "a drill alert fires and reaches the drill desk", func() bool {
		return strings.Contains(dw.desk.all(), id) && strings.Contains(dw.desk.all(), "ServiceDown")
	})

	// A failover during the drill: pension-fund's DNS moves home; it recovers under the cut.
	if err := dw.world.MoveDNS("pension-fund", "arcanet"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "pension-fund answers again under the cut", func() bool {
		up := dw.query(t, fmt.Sprintf(`min by (target) (probe_success{drill=%q,check="http",target="pension-fund"})`, id))
		return up["pension-fund"] == 1
	})

	// The collector dies mid-drill: the agents end the drill on time by their own clocks.
	dw.app.Stop(context.Background())
	eventually(t, 45*time.Second, "both agents end the drill at its expiry with no collector", func() bool {
		return dw.home.Drill() == nil && dw.away.Drill() == nil
	})
	if time.Since(started) < 39*time.Second {
		t.Fatalf("the agents ended the 40s drill after %s", time.Since(started))
	}
	dw.startCollector(t, dw.addr)

	// Production heard nothing of the drill.
	for _, tg := range lostSet {
		if strings.Contains(dw.prod.all(), tg) {
			t.Errorf("the production receiver was told of %s during the drill:\n%s", tg, dw.prod.all())
		}
	}
	var alerts struct {
		Alerts []struct{ Labels map[string]string }
	}
	callAPI(t.Context(), http.MethodGet, dw.base, "/api/v1/alerts", dw.opFile, nil, &alerts)
	for _, a := range alerts.Alerts {
		if strings.HasPrefix(a.Labels["alertname"], "ServiceDown") && a.Labels["drill"] == "" && strings.Contains(strings.Join(lostSet, ","), a.Labels["target"]) {
			t.Errorf("a production alert for a drilled service: %v", a.Labels)
		}
	}

	// The report: what the what-if predicted, measured, signed.
	shown := dw.cli(t, "drill", "show", id)
	if !strings.Contains(shown, "by schedule") || !strings.Contains(shown, "agents enforcing the cut: 2") || !strings.Contains(shown, "playbook runs") {
		t.Errorf("drill show:\n%s", shown)
	}
	dir := t.TempDir()
	files := map[string]string{}
	for _, f := range []string{"json", "md", "html"} {
		files[f] = filepath.Join(dir, "report."+f)
		dw.cli(t, "drill", "report", id, "--format", f, "--out", files[f])
		var out bytes.Buffer
		if err := run(t.Context(), []string{"verify", files[f]}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "intact") {
			t.Errorf("verify %s: %v %s", f, err, out.String())
		}
	}
	rep := readReport(t, files["json"])
	observed := map[string]report.Service{}
	for _, s := range rep.Services {
		observed[s.Target] = s
	}
	for _, tg := range lostSet {
		s := observed[tg]
		if s.Predicted != report.Lost || s.Observed != report.Lost || s.Difference != "" || s.Agents != 2 || s.FirstFailure == nil {
			t.Errorf("%s: %+v", tg, s)
		}
	}
	if s := observed["pension-fund"]; s.Recovered == nil || s.RTOResult != report.RTOMet {
		t.Errorf("pension-fund recovered: %+v", s)
	}
	if s := observed["elections"]; s.RTOResult != report.RTONotMeasured || s.Detected == nil {
		t.Errorf("elections: %+v", s)
	}
	for _, s := range rep.Services {
		// The flapping and the home-only services fail for their own reasons, and the report says so.
		ownFault := strings.Contains(s.Difference, "reasons of its own") && !strings.Contains(s.Difference, "drill_cut")
		if !strings.Contains(strings.Join(lostSet, ","), s.Target) && s.Observed != report.Unaffected && !ownFault {
			t.Errorf("%s was not in the cut but observed %s: %s", s.Target, s.Observed, s.Difference)
		}
	}
	for _, a := range rep.Agents {
		t.Logf("agent %s took up the cut %.3fs after the drill started (poll interval 1s)", a.Agent, a.Seconds)
	}
	if rep.Verdict != report.PassWithConditions || len(rep.Agents) != 2 {
		t.Errorf("verdict %q, agents %v, conditions %v", rep.Verdict, rep.Agents, rep.Conditions)
	}
	timeline := ""
	for _, e := range rep.Timeline {
		timeline += e.Action + " " + string(e.Detail) + "\n"
	}
	if !strings.Contains(timeline, "step.would-run") || !strings.Contains(dw.desk.all(), "a DNS provider is lost") {
		t.Errorf("the playbook did not run in drill mode (notify sent, http would-run):\n%s", timeline)
	}

	// The scenario: the foreign CDN's country is lost. Every service
	// behind Skyline CDN or served by Cathay DNS (both in XC) goes down in
	// the drill series as the what-if predicted; the agents end it on time.
	got = dw.cli(t, "drill", "start", "--cut", "country=XC", "--for", "20s")
	cid := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(got, "drill "))[0], ":")
	xc := []string{"elections", "gas-transport", "heat-network", "open-data", "pension-fund", "stock-exchange", "tax-office"}
	if !strings.Contains(got, fmt.Sprintf("predicted: %d lost", len(xc))) {
		t.Fatalf("drill start country=XC said:\n%s", got)
	}
	eventually(t, 30*time.Second, "the services of XC are down in the country drill's series", func() bool {
		down := dw.query(t, fmt.Sprintf(`max by (target) (probe_success{drill=%q,check="http"}) == 0`, cid))
		for _, tg := range xc {
			if _, ok := down[tg]; !ok {
				return false
			}
		}
		return true
	})
	eventually(t, 30*time.Second, "both agents end the country drill at its expiry", func() bool {
		return dw.home.Drill() == nil && dw.away.Drill() == nil
	})
	time.Sleep(1500 * time.Millisecond) // the collector closes it on schedule within a second
	cfile := filepath.Join(dir, "country.json")
	dw.cli(t, "drill", "report", cid, "--format", "json", "--out", cfile)
	crep := readReport(t, cfile)
	for _, s := range crep.Services {
		inCut := strings.Contains(","+strings.Join(xc, ",")+",", ","+s.Target+",")
		switch {
		case inCut && (s.Predicted != report.Lost || s.Observed != report.Lost):
			t.Errorf("country drill: %s predicted %s, observed %s: %s", s.Target, s.Predicted, s.Observed, s.Difference)
		case !inCut && s.Predicted == report.Lost:
			t.Errorf("country drill: %s predicted lost outside the cut", s.Target)
		case !inCut && s.Observed == report.Lost && !strings.Contains(s.Difference, "reasons of its own"):
			t.Errorf("country drill: %s lost outside the cut, unexplained: %s", s.Target, s.Difference)
		}
	}

	// A tampered report fails verify, naming the part.
	b, _ := os.ReadFile(files["json"])
	os.WriteFile(files["json"], bytes.Replace(b, []byte(`"observed": "lost"`), []byte(`"observed": "unaffected"`), 1), 0o600)
	err = run(t.Context(), []string{"verify", files["json"]}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "was altered (service ") {
		t.Errorf("verify of a tampered JSON report: %v", err)
	}
	h, _ := os.ReadFile(files["html"])
	os.WriteFile(files["html"], bytes.Replace(h, []byte("pass with conditions"), []byte("pass"), 1), 0o600)
	if err := run(t.Context(), []string{"verify", files["html"]}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Errorf("verify of a tampered HTML report: %v", err)
	}
}

func readReport(t *testing.T, file string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var x audit.Export
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	r, err := report.FromSigned(&x)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
