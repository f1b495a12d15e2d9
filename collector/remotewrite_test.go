package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/bulwarkhq/bulwark/internal/testenv/influxd"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// startVictoriaMetrics runs Debian's VictoriaMetrics on loopback; it
// deduplicates samples a pair of collectors both forward.
func startVictoriaMetrics(t *testing.T) string {
	t.Helper()
	bin := testbin.Need(t, "victoria-metrics", "victoria-metrics")
	addr := influxd.FreeAddr(t)
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-search.latencyOffset=0s",
		"-dedup.minScrapeInterval=1ms", "-loggerLevel=ERROR")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return "http://" + addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("VictoriaMetrics did not start")
		}
	}
}

// pushProbeSeries pushes n probe_success series of three in-order samples
// each, a second apart, the last at end, with an agent's token.
func pushProbeSeries(t *testing.T, base string, n int, end time.Time) {
	t.Helper()
	pushProbeRange(t, base, 0, n, end)
}

// pushProbeRange pushes the series svc-from to svc-(to-1).
func pushProbeRange(t *testing.T, base string, from, to int, end time.Time) {
	t.Helper()
	req := wire.WriteRequest{}
	for i := from; i < to; i++ {
		s := wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"},
			{Name: "target", Value: fmt.Sprintf("svc-%03d", i)}}}
		for k := 2; k >= 0; k-- {
			s.Samples = append(s.Samples, wire.Sample{Value: float64((i + k) % 2), Timestamp: end.Add(-time.Duration(k) * time.Second).UnixMilli()})
		}
		req.Series = append(req.Series, s)
	}
	r, _ := http.NewRequest("POST", base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, wire.AppendRequest(nil, &req))))
	r.Header.Set("Authorization", "Bearer agent-token")
	r.Header.Set("Content-Encoding", "snappy")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
}

// promQuery asks a Prometheus-compatible API and returns its data in a
// canonical form: series sorted by their labels.
func promQuery(t *testing.T, base, path string, params url.Values, token string) string {
	t.Helper()
	r, _ := http.NewRequest("GET", base+path+"?"+params.Encode(), nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Status != "success" {
		t.Fatalf("%s %s: %.500s", path, params.Encode(), b)
	}
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value,omitempty"`
			Values [][]any           `json:"values,omitempty"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out.Data, &data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	key := func(m map[string]string) string { b, _ := json.Marshal(m); return string(b) }
	slices.SortFunc(data.Result, func(a, b struct {
		Metric map[string]string `json:"metric"`
		Value  []any             `json:"value,omitempty"`
		Values [][]any           `json:"values,omitempty"`
	}) int {
		return strings.Compare(key(a.Metric), key(b.Metric))
	})
	c, _ := json.Marshal(data)
	return string(c)
}

// Issue 22: every sample the collector stores is forwarded to a real
// VictoriaMetrics through Prometheus's queue manager, and VictoriaMetrics
// answers the same queries as the embedded store, to the sample.
func TestRemoteWriteToVictoriaMetrics(t *testing.T) {
	vm := startVictoriaMetrics(t)
	app, _ := startRoles(t, fmt.Sprintf("storage:\n  remote_write:\n    - {url: %q, name: vm}\n", vm+"/api/v1/write"))
	base := "http://" + app.Addr()
	// Prometheus's WAL watcher forwards samples newer than its start (a
	// backlog older than the collector's start stays in the embedded store:
	// docs/OPERATIONS.md), so these are stamped after it.
	end := time.Now().Add(4 * time.Second).Truncate(time.Second)
	const n = 500
	pushProbeSeries(t, base, n, end)
	time.Sleep(time.Until(end.Add(time.Second)))
	count := url.Values{"query": {`count(probe_success{agent="home-1"})`}, "time": {strconv.FormatInt(end.Unix(), 10)}}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(promQuery(t, vm, "/api/v1/query", count, ""), `"500"`) {
		if time.Now().After(deadline) {
			t.Fatalf("VictoriaMetrics has not the %d series: %s", n, promQuery(t, vm, "/api/v1/query", count, ""))
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, q := range []struct {
		path   string
		params url.Values
	}{
		{"/api/v1/query", url.Values{"query": {`sort_desc(sum by (target) (probe_success{agent="home-1"}))`}, "time": {strconv.FormatInt(end.Unix(), 10)}}},
		{"/api/v1/query", url.Values{"query": {`sum(count_over_time(probe_success[10s]))`}, "time": {strconv.FormatInt(end.Unix(), 10)}}},
		{"/api/v1/query_range", url.Values{"query": {`sum(probe_success{agent="home-1"})`},
			"start": {strconv.FormatInt(end.Add(-2*time.Second).Unix(), 10)}, "end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"1"}}},
	} {
		want := promQuery(t, base, q.path, q.params, "viewer-token")
		if got := promQuery(t, vm, q.path, q.params, ""); got != want {
			t.Errorf("%s %s:\nVictoriaMetrics %.800s\nembedded        %.800s", q.path, q.params.Get("query"), got, want)
		}
	}
	r, _ := http.NewRequest("GET", base+"/metrics", nil)
	r.Header.Set("Authorization", "Bearer admin-token")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `prometheus_remote_storage_samples_total{remote_name="vm"`) {
		t.Errorf("the queue manager's metrics are not on /metrics: %s %.300s", resp.Status, b)
	}
}

// Issue 22: a pair of collectors forwarding to one VictoriaMetrics and
// reading from it (query.url). Each received half of the samples (as when
// one was away); either answers every query over all of them, exactly as a
// collector that received everything answers from its embedded store.
func TestPairReadsTheSharedStore(t *testing.T) {
	vm := startVictoriaMetrics(t)
	shared := fmt.Sprintf("storage:\n  remote_write:\n    - {url: %q, name: vm}\nquery:\n  url: %q\n", vm+"/api/v1/write", vm)
	a, _ := startRoles(t, shared)
	b, _ := startRoles(t, shared)
	whole, _ := startRoles(t, "")
	end := time.Now().Add(4 * time.Second).Truncate(time.Second)
	for _, c := range []*App{a, whole} {
		pushProbeRange(t, "http://"+c.Addr(), 0, 200, end)
	}
	for _, c := range []*App{b, whole} {
		pushProbeRange(t, "http://"+c.Addr(), 200, 400, end)
	}
	time.Sleep(time.Until(end.Add(time.Second)))
	count := url.Values{"query": {`count(probe_success{agent="home-1"})`}, "time": {strconv.FormatInt(end.Unix(), 10)}}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(promQuery(t, vm, "/api/v1/query", count, ""), `"400"`); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("VictoriaMetrics has not the 400 series: %s", promQuery(t, vm, "/api/v1/query", count, ""))
		}
	}
	at := strconv.FormatInt(end.Unix(), 10)
	for _, q := range []struct {
		path   string
		params url.Values
	}{
		{"/api/v1/query", count},
		{"/api/v1/query", url.Values{"query": {`sum by (target) (probe_success{agent="home-1"})`}, "time": {at}}},
		{"/api/v1/query", url.Values{"query": {`sum(count_over_time(probe_success[10s]))`}, "time": {at}}},
		{"/api/v1/query_range", url.Values{"query": {`sum(probe_success{agent="home-1"})`},
			"start": {strconv.FormatInt(end.Add(-2*time.Second).Unix(), 10)}, "end": {at}, "step": {"1"}}},
	} {
		want := promQuery(t, "http://"+whole.Addr(), q.path, q.params, "viewer-token")
		for name, c := range map[string]*App{"a": a, "b": b} {
			if got := promQuery(t, "http://"+c.Addr(), q.path, q.params, "viewer-token"); got != want {
				t.Errorf("collector %s, %s %s:\ngot  %.600s\nwant %.600s", name, q.path, q.params.Get("query"), got, want)
			}
		}
	}
}
