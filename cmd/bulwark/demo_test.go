package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

type promResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
	Error string `json:"error"`
}

func instant(t *testing.T, base, q string) promResponse {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pr promResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		t.Fatal(err)
	}
	if pr.Status != "success" {
		t.Fatalf("query %s: %s", q, pr.Error)
	}
	return pr
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}

// The whole pipeline in one process: the demo world, the collector and two
// agents. Every service reports from both vantage points through the query
// API, the home-only service is down from abroad only, and the console lists
// every service by sector.
func TestDemoEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	dataDir := t.TempDir()
	notes := &syncBuffer{}
	go func() {
		done <- startDemo(ctx, demoOptions{Listen: "127.0.0.1:0", DataDir: dataDir, Out: notes,
			Pace: demoPace{Probe: 2 * time.Second, Deps: 2 * time.Second, Attribution: time.Second, Resolve: 2 * time.Second,
				DriftAfter: 8 * time.Second, OutageAfter: 14 * time.Second},
			Logger: slog.New(slog.DiscardHandler), Ready: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	n := demo.ServiceCount()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pr := instant(t, base, `count by (vantage) (probe_success{check="http"})`)
		got := map[string]string{}
		for _, r := range pr.Data.Result {
			got[r.Metric["vantage"]] = r.Value[1].(string)
		}
		want := fmt.Sprint(n)
		if got["home"] == want && got["abroad"] == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s services per vantage = %v, want %d from home and abroad", got, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for vantage, want := range map[string]string{"home": "1", "abroad": "0"} {
		pr := instant(t, base, fmt.Sprintf(`probe_success{target="nuclear-safety",check="http",vantage=%q}`, vantage))
		if len(pr.Data.Result) != 1 || pr.Data.Result[0].Value[1] != want {
			t.Errorf("home-only service from %s: %+v, want %s", vantage, pr.Data.Result, want)
		}
	}
	pr := instant(t, base, `probe_success{target="grid-portal",check="http"}`)
	if len(pr.Data.Result) != 2 || pr.Data.Result[0].Metric["sector"] != "energy" || pr.Data.Result[0].Metric["check"] != "http" {
		t.Errorf("grid-portal series: %+v", pr.Data.Result)
	}

	// Dependencies are observed from both vantage points.
	deadline = time.Now().Add(30 * time.Second)
	for {
		pr := instant(t, base, `count by (vantage) (probe_dependency_info{target="gas-transport",layer="dns",name="ns1.cathaydns.test"})`)
		if len(pr.Data.Result) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dependency observations of gas-transport: %+v", pr.Data.Result)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The collector attributes them: Cathay DNS is foreign and alone.
	deadline = time.Now().Add(30 * time.Second)
	for {
		pr := instant(t, base, `bulwark_layer_state{target="gas-transport",layer="dns",state="foreign-critical"}`)
		if len(pr.Data.Result) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no layer state for gas-transport within 30s")
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The demo's DNS move abroad shows up as drift.
	deadline = time.Now().Add(40 * time.Second)
	for {
		var drift struct {
			Data []struct{ Target, Layer, Before, After string } `json:"data"`
		}
		getJSON(t, base+"/api/v1/drift?target=water-utility", &drift)
		if len(drift.Data) > 0 {
			for _, d := range drift.Data {
				if d.Layer != "dns" || d.Before != "arcanet@XA" || d.After != "cathaydns@XC" {
					pr := instant(t, base, `timestamp(last_over_time(probe_dependency_info{target="water-utility",layer="dns"}[1h]))`)
					t.Fatalf("drift %+v\n%+v", d, pr.Data.Result)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo's DNS drift was not reported within 40s")
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The state database keeps each version of the graph.
	var hist struct {
		Data []struct {
			Key   string
			Since time.Time
		} `json:"data"`
	}
	getJSON(t, base+"/api/v1/dependencies/history?target=water-utility", &hist)
	if len(hist.Data) < 2 {
		t.Errorf("history of water-utility: %+v", hist.Data)
	}
	longTailResolvedByAgents(t, base, dataDir)
	var wi struct {
		Data struct {
			Totals   map[string]int `json:"totals"`
			Services []struct{ Target, Outcome string }
		} `json:"data"`
	}
	getJSON(t, base+"/api/v1/whatif?country=XC", &wi)
	if wi.Data.Totals["lost"] == 0 || wi.Data.Services[0].Outcome != "lost" {
		t.Errorf("what-if XC: %+v", wi.Data)
	}

	// Every service is on the services page (one page of 100); the
	// overview has the problems and the sectors as tiles. The console
	// classifies as the API does (it said "partial" before issue 23).
	resp, err := http.Get(base + "/services")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if c := strings.Count(string(page), "data-target="); c != n {
		t.Errorf("console lists %d services, want %d", c, n)
	}
	if resp, err = http.Get(base + "/"); err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, s := range []string{`id="sector-energy"`, `id="sector-finance"`, `id="sector-government"`, `data-target="nuclear-safety" data-state="down-from-abroad-only"`} {
		if !strings.Contains(string(page), s) {
			t.Errorf("console page lacks %s", s)
		}
	}

	// The console as an operator's browser shows it: Debian's Chromium,
	// headless, renders the pages and we read the DOM it built.
	// The built-in rules see what an operator must hear about: the
	// home-only service down from abroad, the certificate about to expire,
	// the DNS move abroad (issue 9).
	// The slow card-switch is above its latency objective (issue 20).
	wantAlerts := []string{"ServiceDownFromAbroadOnly/nuclear-safety", "CertificateExpiring/tax-refunds", "DependencyDrift/water-utility",
		"LatencyAboveObjective/card-switch"}
	deadline = time.Now().Add(60 * time.Second)
	for {
		var al struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string
					State  string
				}
			}
		}
		getJSON(t, base+"/api/v1/alerts", &al)
		firing := map[string]bool{}
		for _, a := range al.Data.Alerts {
			// A fresh install's foreign-critical layers are its baseline,
			// not news (issue 20, defect 10): not even pending. Only
			// water-utility's DNS, domestic at first, moves to one foreign
			// provider.
			if a.Labels["alertname"] == "ForeignCriticalLayerNew" && a.Labels["target"] != "water-utility" {
				t.Fatalf("ForeignCriticalLayerNew %s on a fresh start: %v", a.State, a.Labels)
			}
			if a.State == "firing" {
				firing[a.Labels["alertname"]+"/"+a.Labels["target"]] = true
			}
		}
		missing := []string{}
		for _, w := range wantAlerts {
			if !firing[w] {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts not firing within 60s: %v (firing: %v)", missing, firing)
		}
		time.Sleep(time.Second)
	}
	noFalseDrift(t, base)
	// Cathay DNS goes down: the services it hosts fail from everywhere, and
	// the terminal receiver prints one incident naming it, not a page each.
	deadline = time.Now().Add(60 * time.Second)
	// (The incident may first be told with five of the six, the sixth failing
	// a probe interval later; the group's next notification names all six.)
	for !strings.Contains(notes.String(), "Probable shared cause: Cathay DNS (XC), dns layer, common to 6 of") {
		if time.Now().After(deadline) {
			t.Fatalf("no incident naming Cathay DNS within 60s; the terminal shows:\n%s", notes.String())
		}
		time.Sleep(time.Second)
	}
	for _, svc := range []string{"elections", "gas-transport", "pension-fund", "stock-exchange", "tax-office", "water-utility"} {
		if !strings.Contains(notes.String(), svc) {
			t.Errorf("the incident does not name %s among the services sharing Cathay DNS:\n%s", svc, notes.String())
		}
	}
	if n := strings.Count(notes.String(), "[FIRING] ServiceDownEverywhere"); n > 3 {
		t.Errorf("%d ServiceDownEverywhere notifications: a page per service, not one incident:\n%s", n, notes.String())
	}
	noFalseDrift(t, base) // also after the outage's failures
	var rl struct {
		Data struct{ Groups []struct{ Name string } }
	}
	getJSON(t, base+"/api/v1/rules", &rl)
	var groupNames []string
	for _, g := range rl.Data.Groups {
		groupNames = append(groupNames, g.Name)
	}
	if slices.Sort(groupNames); !slices.Equal(groupNames, []string{"bulwark-availability", "bulwark-builtin"}) {
		t.Errorf("rule groups: %+v", rl.Data.Groups)
	}

	readmeCommands(t, base, dataDir)

	chromium := testbin.Need(t, "chromium", "chromium")
	for page, wants := range map[string][]string{
		"/":                   {`data-target="nuclear-safety"`, `data-state="down-from-abroad-only"`, "Bulwark — critical services", ">ServiceDownFromAbroadOnly</span>"},
		"/services?q=nuclear": {`data-target="nuclear-safety"`, `data-state="down-from-abroad-only"`},
		// The alerts page: what fires, and the incident naming the shared cause.
		"/alerts": {`data-alert="ServiceDownFromAbroadOnly" data-target="nuclear-safety" data-state="firing"`,
			`data-alert="CertificateExpiring" data-target="tax-refunds"`, "Cathay DNS (XC), dns layer, common to 6 of"},
		"/dependencies": {`data-target="gas-transport"`, "foreign-critical", "dns: 2/2 name servers foreign: Cathay DNS (XC)", `data-layer="dns"`},
		// The zone imported by longTailResolvedByAgents, its name server placed by address.
		"/reports/dns": {`id="headline"`, "Dravia Cloud", "XD"},
	} {
		ctx, cancelDump := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
			"--user-data-dir="+t.TempDir(), "--dump-dom", base+page).Output()
		cancelDump()
		if err != nil {
			t.Fatalf("chromium %s: %v", page, err)
		}
		for _, w := range wants {
			if !strings.Contains(string(out), w) {
				t.Errorf("page %s as rendered by Chromium lacks %q", page, w)
			}
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of cancel")
	}
}

// noFalseDrift: the flapping heat-network's failed probes observe no
// dependencies, nor do the probes failing in the demo's outage: that is
// no drift (issue 20, defect 11), and no drift is ever from nothing.
func noFalseDrift(t *testing.T, base string) {
	t.Helper()
	var drifts struct {
		Data []struct{ Target, Layer, Before, After string } `json:"data"`
	}
	getJSON(t, base+"/api/v1/drift", &drifts)
	for _, d := range drifts.Data {
		if d.Target != "water-utility" || d.Before == "none" || d.Before == "" {
			t.Errorf("false drift: %+v", d)
		}
	}
}

// readmeCommands runs the commands of the README and docs/ that talk to a
// running demo, copied from the pages themselves (so a broken example
// fails here): their curl lines and their whatif line, with the demo's
// address and data directory in place of the defaults.
func readmeCommands(t *testing.T, base, dataDir string) {
	t.Helper()
	var curls, whatifs int
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.ReplaceAll(line, "http://127.0.0.1:9400", base)
			line = strings.ReplaceAll(line, "DATA_DIR", dataDir)
			cmd, isBulwark := bulwarkCommand(strings.Fields(line))
			switch {
			case strings.HasPrefix(line, "curl "):
				curls++
				out, err := exec.Command("sh", "-c", line).CombinedOutput()
				if err != nil || !strings.Contains(string(out), `"status":"success"`) {
					t.Errorf("%s: %s: %v\n%s", f, line, err, out)
				}
			case isBulwark && len(cmd) > 0 && cmd[0] == "whatif":
				whatifs++
				var out, errb strings.Builder
				if err := run(context.Background(), cmd, &out, &errb); err != nil || !strings.Contains(out.String(), "lost") {
					t.Errorf("%s: %s: %v\n%s", f, line, err, out.String())
				}
			}
		}
	}
	if curls == 0 || whatifs == 0 {
		t.Errorf("the docs show %d curl and %d whatif commands for the demo; this test expects them", curls, whatifs)
	}
}

// syncBuffer is a bytes.Buffer safe for the demo's writer and the test's reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Issue 10: a zone whose only name server no catalog names and no glue
// places, and which only the agents can resolve (the world's DNS): it is
// unattributed until an agent resolves it for the collector, then
// attributed by address, to Dravia Cloud's network.
func longTailResolvedByAgents(t *testing.T, base, dataDir string) {
	t.Helper()
	zf := filepath.Join(t.TempDir(), "gov.zone")
	os.WriteFile(zf, []byte("$ORIGIN gov.\n@ 3600 IN SOA a.ns.gov. dns.example. 1 3600 900 604800 300\n"+
		"longtail 3600 IN NS "+demo.LongTailNS+".\n"), 0o644)
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"zone", "import", zf, "--data", dataDir}, &out, &errb); err != nil {
		t.Fatalf("zone import: %v\n%s", err, errb.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var rep struct {
			Data struct {
				Providers []struct{ Provider, Jurisdiction string }
			}
		}
		getJSON(t, base+"/api/v1/reports/dns?origin=gov.", &rep) // the demo imports its own zone too
		if p := rep.Data.Providers; len(p) == 1 && p[0].Provider == "dravia" && p[0].Jurisdiction == "XD" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the long-tail name server was not attributed by address within 60s: %+v", rep.Data.Providers)
		}
		time.Sleep(time.Second)
	}
}
