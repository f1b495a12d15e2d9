package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Tokens of the test users, one per role.
const (
	viewerToken   = "viewer-token"
	operatorToken = "operator-token"
	adminToken    = "admin-token"
)

func testUsers() *auth.Users {
	us := auth.NewUsers()
	us.Add(viewerToken, false, auth.User{ID: "vera", Role: auth.RoleViewer})
	us.Add(operatorToken, false, auth.User{ID: "otto", Role: auth.RoleOperator})
	us.Add(adminToken, false, auth.User{ID: "ada", Role: auth.RoleAdmin})
	return us
}

// startCollector runs a collector with two agent tokens.
func startCollector(t *testing.T) *collector.App {
	t.Helper()
	cfg := collectorconfig.Default()
	cfg.DataDir = t.TempDir()
	agents := auth.NewAgents()
	agents.Add("home-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	agents.Add("abroad-token", auth.Identity{Agent: "abroad-1", Vantage: "abroad"})
	app, err := collector.New(collector.Options{Config: &cfg, Agents: agents, Users: testUsers()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop(context.Background()) })
	return app
}

// startPrometheus runs Debian's Prometheus on loopback with a scrape of the
// collector and the remote-write receiver on.
func startPrometheus(t *testing.T, scrape string) string {
	t.Helper()
	bin := testbin.Need(t, "prometheus", "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: bulwark
    authorization: {credentials: %q}
    static_configs:
      - targets: [%q]
`, viewerToken, scrape)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	addr := freePort(t)
	return startProgram(t, "prometheus", addr, bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
}

// startProgram runs a real server on loopback at addr, waits for its
// /-/ready, and returns its base URL; its log is shown if the test fails.
func startProgram(t *testing.T, name, addr, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func push(t *testing.T, url, token string, req *wire.WriteRequest) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(wire.Compress(nil, req)))
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("push to %s: %d %s", url, resp.StatusCode, b.String())
	}
}

// probeData builds 30 minutes of probe-shaped samples every 15s for one
// vantage, with labels as the collector stamps them when withIdentity.
func probeData(agentID, vantage string, end time.Time, withIdentity bool) *wire.WriteRequest {
	var req wire.WriteRequest
	targets := []struct{ id, sector string }{{"grid-portal", "energy"}, {"payments", "finance"}, {"e-id", "government"}, {"gas-transport", "energy"}}
	for ti, tg := range targets {
		for _, name := range []string{"probe_success", "probe_duration_seconds"} {
			ls := []wire.Label{{Name: "__name__", Value: name}}
			if withIdentity {
				ls = append(ls, wire.Label{Name: "agent", Value: agentID})
			}
			ls = append(ls, wire.Label{Name: "check", Value: "http"})
			ls = append(ls, wire.Label{Name: "sector", Value: tg.sector}, wire.Label{Name: "target", Value: tg.id})
			if withIdentity {
				ls = append(ls, wire.Label{Name: "vantage", Value: vantage})
			}
			s := wire.Series{Labels: ls}
			for i := 120; i > 0; i-- {
				ts := end.Add(-time.Duration(i) * 15 * time.Second)
				v := 1.0
				if name == "probe_success" && (ti+i)%7 == 0 || vantage == "abroad" && tg.id == "e-id" {
					v = 0
				}
				if name == "probe_duration_seconds" {
					v = 0.05 + float64((ti*31+i*17)%100)/1000
				}
				s.Samples = append(s.Samples, wire.Sample{Value: v, Timestamp: ts.UnixMilli()})
			}
			req.Series = append(req.Series, s)
		}
	}
	return &req
}

// promtoolQuery runs promtool and returns its JSON output decoded.
func promtoolQuery(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	bin := testbin.Need(t, "promtool", "prometheus")
	out, err := exec.Command(bin, append([]string{"query"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("promtool %v output: %v\n%s", args, err, out)
	}
	return v
}

// canon turns a promtool JSON vector or matrix into sorted comparable lines.
func canon(v []map[string]any) []string {
	var lines []string
	for _, s := range v {
		m, _ := json.Marshal(s["metric"])
		if val, ok := s["value"]; ok {
			lines = append(lines, fmt.Sprintf("%s %v", m, val))
		} else {
			lines = append(lines, fmt.Sprintf("%s %v", m, s["values"]))
		}
	}
	slices.Sort(lines)
	return lines
}

// canonPromQL renders a direct engine result the same way.
func canonPromQL(t *testing.T, v any) []string {
	t.Helper()
	var rows []map[string]any
	add := func(metric map[string]string, key string, val any) {
		rows = append(rows, map[string]any{"metric": metric, key: val})
	}
	pt := func(ts int64, f float64) []any {
		return []any{float64(ts) / 1000, strings.TrimSuffix(fmt.Sprintf("%v", f), ".0")}
	}
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			add(s.Metric.Map(), "value", pt(s.T, s.F))
		}
	case promql.Matrix:
		for _, s := range v {
			var pts []any
			for _, p := range s.Floats {
				pts = append(pts, pt(p.T, p.F))
			}
			add(s.Metric.Map(), "values", pts)
		}
	default:
		t.Fatalf("unexpected value %T", v)
	}
	b, _ := json.Marshal(rows)
	var back []map[string]any
	json.Unmarshal(b, &back)
	return canon(back)
}

// Real Prometheus scrapes the collector's /metrics, and promtool's instant
// and range queries against the collector return the same as a direct
// PromQL evaluation and as Prometheus 2.42 itself over the same samples.
func TestPrometheusCompatible(t *testing.T) {
	app := startCollector(t)
	base := "http://" + app.Addr()
	prom := startPrometheus(t, app.Addr())
	// promtool 2.42 has no --http.config.file: it reads as a viewer through
	// basic authentication in the URL, the token as password.
	viewerBase := "http://vera:" + viewerToken + "@" + app.Addr()

	end := time.Now().Truncate(time.Second)
	for _, a := range []struct{ agent, vantage, token string }{{"home-1", "home", "home-token"}, {"abroad-1", "abroad", "abroad-token"}} {
		push(t, base+"/api/v1/write", a.token, probeData(a.agent, a.vantage, end, false))
		push(t, prom+"/api/v1/write", "", probeData(a.agent, a.vantage, end, true))
	}

	// Prometheus scrapes the collector: up == 1 and the collector's own
	// ingest counter is visible through Prometheus.
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := promtoolQuery(t, "instant", "-o", "json", prom, `bulwark_ingest_samples_total{job="bulwark",agent="home-1"}`)
		if len(v) == 1 {
			val := v[0]["value"].([]any)[1]
			if val != "960" {
				t.Fatalf("collector reports %v samples from home-1 through Prometheus, want 960", val)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Prometheus did not scrape the collector's /metrics within 30s")
		}
		time.Sleep(250 * time.Millisecond)
	}

	// Evaluation times fall between samples: Prometheus 3 range selectors
	// are left-open, Prometheus 2 closed, and the two must agree here.
	at := end.Add(-2*time.Minute - 7*time.Second)
	api, err := query.New(query.Options{Queryable: app.Store()})
	if err != nil {
		t.Fatal(err)
	}
	direct := func(q string, start, stop time.Time, step time.Duration) []string {
		var qry promql.Query
		var err error
		if step == 0 {
			qry, err = api.Engine().NewInstantQuery(context.Background(), app.Store(), nil, q, start)
		} else {
			qry, err = api.Engine().NewRangeQuery(context.Background(), app.Store(), nil, q, start, stop, step)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer qry.Close()
		res := qry.Exec(context.Background())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return canonPromQL(t, res.Value)
	}
	instants := []string{
		`probe_success`,
		`count(probe_success)`,
		`sum by (sector) (avg_over_time(probe_success[10m]))`,
		`max_over_time(probe_duration_seconds{check="http"}[5m])`,
		`quantile_over_time(0.9, probe_duration_seconds[10m])`,
		`probe_success{vantage="abroad"} == 0`,
		`avg by (target) (probe_success) * 100`,
	}
	ts := fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000)
	for _, q := range instants {
		want := direct(q, at, at, 0)
		if len(want) == 0 {
			t.Fatalf("%s: direct evaluation is empty", q)
		}
		got := canon(promtoolQuery(t, "instant", "-o", "json", "--time="+ts, viewerBase, q))
		if !slices.Equal(got, want) {
			t.Errorf("%s via promtool against the collector:\n got %v\nwant %v", q, got, want)
		}
		ref := canon(promtoolQuery(t, "instant", "-o", "json", "--time="+ts, prom, q))
		if !sameWithin(got, ref) {
			t.Errorf("%s: collector and Prometheus 2.42 differ:\n collector  %v\n prometheus %v", q, got, ref)
		}
	}
	start, stop := end.Add(-20*time.Minute-7*time.Second), end.Add(-7*time.Second)
	for _, q := range []string{`avg by (vantage) (probe_success)`, `sum(avg_over_time(probe_success[5m]))`} {
		want := direct(q, start, stop, time.Minute)
		args := []string{"range", "-o", "json", fmt.Sprintf("--start=%d", start.Unix()), fmt.Sprintf("--end=%d", stop.Unix()), "--step=1m"}
		got := canon(promtoolQuery(t, append(args, viewerBase, q)...))
		if !slices.Equal(got, want) {
			t.Errorf("range %s via promtool:\n got %v\nwant %v", q, got, want)
		}
		ref := canon(promtoolQuery(t, append(args, prom, q)...))
		if !sameWithin(got, ref) {
			t.Errorf("range %s: collector and Prometheus 2.42 differ:\n collector  %v\n prometheus %v", q, got, ref)
		}
	}
	// series, labels and label values answer as Prometheus does.
	for _, path := range []string{
		`/api/v1/labels?match[]={check="http"}`,
		`/api/v1/label/target/values`,
		`/api/v1/label/vantage/values?match[]=probe_success`,
		`/api/v1/series?match[]=probe_success{target="e-id"}`,
		`/api/v1/series?match[]=probe_success{target="e-id"}&match[]=probe_duration_seconds{target="payments"}`,
	} {
		if a, b := getJSON(t, base+path), getJSON(t, prom+path); a != b {
			t.Errorf("%s differs:\n collector  %s\n prometheus %s", path, a, b)
		}
	}
}

func getJSON(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+viewerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	b, _ := json.Marshal(v["data"])
	return string(b)
}

// sameWithin compares canonical lines, numbers equal within a relative
// 1e-9: Prometheus 3's engine sums with Kahan compensation, 2.42 did not.
func sameWithin(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	num := regexp.MustCompile(`[-+]?[0-9]*\.?[0-9]+(e[-+]?[0-9]+)?`)
	for i := range a {
		na, nb := num.FindAllString(a[i], -1), num.FindAllString(b[i], -1)
		if num.ReplaceAllString(a[i], "#") != num.ReplaceAllString(b[i], "#") || len(na) != len(nb) {
			return false
		}
		for j := range na {
			x, _ := strconv.ParseFloat(na[j], 64)
			y, _ := strconv.ParseFloat(nb[j], 64)
			if math.Abs(x-y) > 1e-9*math.Max(math.Abs(x), math.Abs(y)) {
				return false
			}
		}
	}
	return true
}
