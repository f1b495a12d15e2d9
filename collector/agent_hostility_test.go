package collector_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// agentPushed are the names the agents of this test push themselves.
var agentPushed = []string{"probe_success", "probe_ssl_earliest_cert_expiry", "bulwark_agent_queue_pending_samples"}

// builtinSelected returns the metric names the built-in rules select.
func builtinSelected(t *testing.T) []string {
	t.Helper()
	file, err := rule.Builtin{}.File(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	p := parser.NewParser(parser.Options{})
	for _, m := range regexp.MustCompile(`(?m)^\s+expr: (.*)$`).FindAllStringSubmatch(string(file), -1) {
		expr := m[1]
		if s, err := strconv.Unquote(expr); err == nil {
			expr = s
		} else if strings.HasPrefix(expr, "'") {
			expr = strings.ReplaceAll(strings.Trim(expr, "'"), "''", "'")
		}
		e, err := p.ParseExpr(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
				names = append(names, vs.Name)
			}
			return nil
		})
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Issue 19 (1, 2), end to end: one agent's token pushed a copy of
// bulwark_target_availability{classification="down-everywhere"} and sent a
// page, and a duplicate bulwark_target_cert_warning_days put
// CertificateExpiring into error. Now every series name the collector
// writes (its own metrics, what its rule manager and rules write) or its
// built-in rules read as its own, pushed with an agent's token through the
// real handler, is refused and counted; no ServiceDownEverywhere is sent
// while three agents see the service up, and CertificateExpiring fires
// for the honestly expiring certificate. The names are enumerated from
// what a running collector writes and what the rules select, so a new
// name missing from ingest's table fails here.
func TestAgentTokenHostility(t *testing.T) {
	var mu sync.Mutex
	var told []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		told = append(told, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
storage: {self_metrics_interval: 1s}
users: [{id: vera, role: viewer, token_sha256: %s}]
agents:
  - {id: home-1, vantage: home, token_sha256: %s}
  - {id: home-2, vantage: home, token_sha256: %s}
  - {id: abroad-1, vantage: abroad, token_sha256: %s}
targets:
  - {id: grid-portal, sector: energy, url: 'https://grid-portal.example/'}
  - {id: tax-portal, sector: finance, url: 'https://tax-portal.example/'}
alerting:
  evaluation_interval: 1s
  builtin: {down_for: 0s}
  receivers: [{name: duty, webhook: {url: %q}}]
  routes: [{receiver: duty, group_wait: 1s, group_interval: 1s}]
`, filepath.Join(dir, "data"), auth.Hash(viewerToken), auth.Hash("t-home-1"), auth.Hash("t-home-2"), auth.Hash("t-abroad-1"), hook.URL)), 0o600)
	app := startFromFile(t, cfgFile, "")
	base := "http://" + app.Addr()
	now := time.Now()
	ms := now.UnixMilli()
	honest := func(target, sector string) []wire.Series {
		return []wire.Series{
			{Labels: []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "sector", Value: sector}, {Name: "target", Value: target}},
				Samples: []wire.Sample{{Value: 1, Timestamp: ms}}},
		}
	}
	for _, tok := range []string{"t-home-1", "t-home-2", "t-abroad-1"} {
		ss := append(honest("grid-portal", "energy"), honest("tax-portal", "finance")...)
		ss = append(ss, wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_ssl_earliest_cert_expiry"}, {Name: "check", Value: "tls"},
			{Name: "sector", Value: "finance"}, {Name: "target", Value: "tax-portal"}},
			Samples: []wire.Sample{{Value: float64(now.Add(3 * 24 * time.Hour).Unix()), Timestamp: ms}}},
			wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "bulwark_agent_queue_pending_samples"}}, Samples: []wire.Sample{{Value: 0, Timestamp: ms}}})
		if code, msg, _ := pushAgent(t, base, tok, ss); code != http.StatusNoContent {
			t.Fatalf("honest push: %d %s", code, msg)
		}
	}
	// Wait for the collector to have written its own series: its
	// metrics, the rule manager's per-target series, alerts.
	deadline := time.Now().Add(30 * time.Second)
	var stored []string
	for {
		stored = labelValues(t, base, "__name__")
		if slices.Contains(stored, "bulwark_target_cert_warning_days") && slices.Contains(stored, "ALERTS") &&
			slices.Contains(stored, "bulwark_ingest_requests_total") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector wrote no rule series within 30s: %v", stored)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// What the collector writes: its stored names, its own metrics, and
	// what its built-in rules select, but the agents' own.
	written := map[string]string{"ALERTS_FOR_STATE": "rule manager"}
	for _, n := range stored {
		if !slices.Contains(agentPushed, n) {
			written[n] = "stored"
		}
	}
	_, exposition := get(t, base+"/metrics")
	for _, m := range regexp.MustCompile(`(?m)^# TYPE ((?:bulwark_|prometheus_rule_group_)\S+)`).FindAllStringSubmatch(exposition, -1) {
		written[m[1]] = "/metrics"
	}
	for _, n := range builtinSelected(t) {
		if !strings.HasPrefix(n, "probe_") { // the agents' probe results
			written[n] = "built-in rules"
		}
	}
	for n, from := range written {
		if !ingest.Reserved(n) {
			t.Errorf("%s (%s) is written by the collector but agents may push it: add it to ingest's collectorNames", n, from)
		}
	}
	// The hostile agent pushes every one of them, the forged page and the
	// duplicate warning days among them; none is stored.
	var hostile []wire.Series
	for n := range written {
		ls := []wire.Label{{Name: "__name__", Value: n}, {Name: "classification", Value: "down-everywhere"}, {Name: "sector", Value: "energy"}, {Name: "target", Value: "grid-portal"}}
		hostile = append(hostile, wire.Series{Labels: ls, Samples: []wire.Sample{{Value: 1, Timestamp: ms + 1}}})
	}
	hostile = append(hostile, wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "bulwark_target_cert_warning_days"}, {Name: "sector", Value: "finance"}, {Name: "target", Value: "tax-portal"}},
		Samples: []wire.Sample{{Value: 100, Timestamp: ms + 1}}})
	slices.SortFunc(hostile, func(a, b wire.Series) int { return strings.Compare(a.Labels[0].Value, b.Labels[0].Value) })
	code, msg, written0 := pushAgent(t, base, "t-home-1", hostile)
	if code != http.StatusBadRequest || written0 != 0 || !strings.Contains(msg, fmt.Sprintf("refused %d samples of %d series", len(hostile), len(hostile))) {
		t.Errorf("hostile push: %d written=%d %.400s", code, written0, msg)
	}
	_, exposition = get(t, base+"/metrics")
	if want := fmt.Sprintf(`bulwark_ingest_refused_samples_total{reason="reserved_name"} %d`, len(hostile)); !strings.Contains(exposition, want) {
		t.Errorf("refusals not counted: want %s", want)
	}
	// No page; the honest certificate alert fires, and keeps firing.
	deadline = time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		all := strings.Join(told, "\n")
		mu.Unlock()
		if strings.Contains(all, "ServiceDownEverywhere") {
			t.Fatalf("a page was sent on an agent's forged series: %.1000s", all)
		}
		if strings.Contains(all, "CertificateExpiring") && strings.Contains(all, "tax-portal") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CertificateExpiring was not sent for tax-portal within 30s: %.1000s", all)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // three more evaluations
	_, alerts := get(t, base+"/api/v1/alerts")
	if strings.Contains(alerts, "ServiceDownEverywhere") || !strings.Contains(alerts, "CertificateExpiring") {
		t.Errorf("alerts: %.2000s", alerts)
	}
	_, res := get(t, base+"/api/v1/query?query="+url.QueryEscape(`count(bulwark_target_availability{target="grid-portal",classification="down-everywhere"})`))
	if strings.Contains(res, `"result":[{`) {
		t.Errorf("a forged availability series is stored: %s", res)
	}
}

// pushAgent posts series with an agent's token and returns the status,
// message and samples written.
func pushAgent(t *testing.T, base, token string, ss []wire.Series) (int, string, int) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, base+"/api/v1/write", bytes.NewReader(wire.Compress(nil, &wire.WriteRequest{Series: ss})))
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, _ := strconv.Atoi(resp.Header.Get(ingest.HeaderSamplesWritten))
	return resp.StatusCode, strings.TrimSpace(string(b)), n
}

func labelValues(t *testing.T, base, name string) []string {
	t.Helper()
	_, body := get(t, base+"/api/v1/label/"+name+"/values")
	var out struct{ Data []string }
	json.Unmarshal([]byte(body), &out)
	return out.Data
}
