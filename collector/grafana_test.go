package collector

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/bulwarkhq/bulwark/internal/wire"
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

// grafanaRequests are the requests Grafana's Prometheus data source sends
// besides its queries' own, as its source builds them:
// grafana/grafana packages/grafana-prometheus/src/language_provider.ts
// (API_V1: /api/v1/metadata, /api/v1/series, /api/v1/labels,
// /api/v1/label/{key}/values, each with start, end, limit and match[]),
// datasource.ts (query and query_range with start, end, step; the
// buildinfo probe of the configuration page; /api/v1/rules for the alert
// annotations and the rule browser; query_exemplars; format_query). It
// sends them as GET or, with "HTTP method: POST", as a form where
// Prometheus takes a POST (its web/api/v1 router: query, query_range,
// query_exemplars, format_query, labels and series; the others are GET).
var grafanaRequests = []struct {
	path   string
	params url.Values
	check  func(data any) bool
}{
	{"/api/v1/status/buildinfo", nil, func(d any) bool { m, _ := d.(map[string]any); return m["version"] != "" }},
	{"/api/v1/metadata", url.Values{"limit": {"10000"}}, func(d any) bool { _, ok := d.(map[string]any); return ok }},
	{"/api/v1/labels", url.Values{"start": {"1764150000"}, "end": {"1764158400"}, "limit": {"40000"}}, nonEmptyList},
	{"/api/v1/labels", url.Values{"start": {"1764150000"}, "end": {"1764158400"}, "match[]": {`probe_success{target="grid-portal"}`}}, nonEmptyList},
	{"/api/v1/label/__name__/values", url.Values{"start": {"1764150000"}, "end": {"1764158400"}, "limit": {"40000"}}, nonEmptyList},
	{"/api/v1/label/target/values", url.Values{"start": {"1764150000"}, "end": {"1764158400"}, "match[]": {`probe_success`}, "limit": {"40000"}}, nonEmptyList},
	{"/api/v1/series", url.Values{"start": {"1764150000"}, "end": {"1764158400"}, "match[]": {`{__name__!=""}`}, "limit": {"40000"}}, nonEmptyList},
	{"/api/v1/query", url.Values{"query": {"probe_success"}, "time": {"1764158400"}}, vectorData},
	{"/api/v1/query_range", url.Values{"query": {"probe_success"}, "start": {"1764158100"}, "end": {"1764158400"}, "step": {"15"}}, matrixData},
	{"/api/v1/query_exemplars", url.Values{"query": {"probe_success"}, "start": {"1764158100"}, "end": {"1764158400"}}, func(d any) bool { _, ok := d.([]any); return ok }},
	{"/api/v1/format_query", url.Values{"query": {"probe_success{target='grid-portal'}"}}, func(d any) bool { return d == `probe_success{target="grid-portal"}` }},
	{"/api/v1/rules", nil, func(d any) bool { m, _ := d.(map[string]any); _, ok := m["groups"]; return ok }},
	{"/api/v1/rules", url.Values{"type": {"alert"}}, func(d any) bool { m, _ := d.(map[string]any); _, ok := m["groups"]; return ok }},
	{"/api/v1/alerts", nil, func(d any) bool { m, _ := d.(map[string]any); _, ok := m["alerts"]; return ok }},
}

func nonEmptyList(d any) bool { l, ok := d.([]any); return ok && len(l) > 0 }

func vectorData(d any) bool {
	m, _ := d.(map[string]any)
	r, _ := m["result"].([]any)
	return m["resultType"] == "vector" && len(r) > 0
}

func matrixData(d any) bool {
	m, _ := d.(map[string]any)
	r, _ := m["result"].([]any)
	return m["resultType"] == "matrix" && len(r) > 0
}

// TestGrafanaReplay sends every request of grafanaRequests, as GET and as
// a POST form, to a collector holding one pushed sample, and checks each
// answer's Prometheus shape: {"status":"success","data":...}.
func TestGrafanaReplay(t *testing.T) {
	app, _ := startRoles(t, "")
	base := "http://" + app.Addr()
	ts := time.Unix(1764158400, 0)
	req := wire.WriteRequest{Series: []wire.Series{{
		Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "target", Value: "grid-portal"}},
		Samples: []wire.Sample{{Value: 1, Timestamp: ts.Add(-time.Minute).UnixMilli()}, {Value: 1, Timestamp: ts.UnixMilli()}}}}}
	r, _ := http.NewRequest("POST", base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, wire.AppendRequest(nil, &req))))
	r.Header.Set("Authorization", "Bearer agent-token")
	r.Header.Set("Content-Encoding", "snappy")
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("push: %v %v", resp, err)
	}
	for _, gr := range grafanaRequests {
		methods := []string{http.MethodGet}
		if slices.Contains([]string{"/api/v1/query", "/api/v1/query_range", "/api/v1/query_exemplars", "/api/v1/format_query", "/api/v1/labels", "/api/v1/series"}, gr.path) {
			methods = append(methods, http.MethodPost)
		}
		for _, method := range methods {
			u, body := base+gr.path, ""
			if method == http.MethodGet && gr.params != nil {
				u += "?" + gr.params.Encode()
			} else {
				body = gr.params.Encode()
			}
			req, _ := http.NewRequest(method, u, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer viewer-token")
			if method == http.MethodPost {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Status string
				Data   any
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode != 200 || err != nil || out.Status != "success" || !gr.check(out.Data) {
				t.Errorf("%s %s %v: %d %v %+v", method, gr.path, gr.params, resp.StatusCode, err, out)
			}
		}
	}
}
