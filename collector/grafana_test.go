package collector

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Issue 12 (first part): the endpoints Grafana's Prometheus data source
// calls besides queries and labels (metadata for its metric browser,
// exemplars, "format query", buildinfo) answer in Prometheus's shapes,
// and errors in Prometheus's error shape, not a plain-text 404.
func TestGrafanaPrometheusEndpoints(t *testing.T) {
	app, _ := startRoles(t, "")
	base := "http://" + app.Addr()
	do := func(method, path string, form url.Values) (int, map[string]any) {
		t.Helper()
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(form.Encode())
		} else if form != nil {
			path += "?" + form.Encode()
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer viewer-token")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: not JSON: %v", method, path, err)
		}
		return resp.StatusCode, out
	}
	code, out := do("GET", "/api/v1/status/buildinfo", nil)
	if d, _ := out["data"].(map[string]any); code != 200 || d["application"] != "bulwark" || d["version"] == "" {
		t.Errorf("buildinfo: %d %v", code, out)
	}
	code, out = do("GET", "/api/v1/metadata", url.Values{"metric": {"probe_success"}})
	if d, _ := out["data"].(map[string]any); code != 200 || len(d) != 1 || d["probe_success"] == nil {
		t.Errorf("metadata: %d %v", code, out)
	}
	code, out = do("GET", "/api/v1/query_exemplars", url.Values{"query": {"probe_success"}, "start": {"0"}, "end": {"100"}})
	if d, ok := out["data"].([]any); code != 200 || !ok || len(d) != 0 {
		t.Errorf("query_exemplars: %d %v", code, out)
	}
	code, out = do("POST", "/api/v1/format_query", url.Values{"query": {"sum by(target)(rate(probe_success[5m]))"}})
	if code != 200 || out["data"] != "sum by (target) (rate(probe_success[5m]))" {
		t.Errorf("format_query: %d %v", code, out)
	}
	for _, path := range []string{"/api/v1/format_query", "/api/v1/query_exemplars"} {
		code, out = do("GET", path, url.Values{"query": {"sum("}})
		if code != 400 || out["status"] != "error" || out["errorType"] != "bad_data" {
			t.Errorf("%s with a bad query: %d %v", path, code, out)
		}
	}
}
