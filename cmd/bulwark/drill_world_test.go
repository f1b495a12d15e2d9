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
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
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
