package collector_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// get reads u as a viewer.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	return getAs(t, u, viewerToken)
}

// getAs reads u with a bearer token ("" for none).
func getAs(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// What was accepted before Stop is there after a restart on the same data.
func TestStopKeepsAcceptedData(t *testing.T) {
	cfg := collectorconfig.Default()
	cfg.DataDir = t.TempDir()
	agents := auth.NewAgents()
	agents.Add("home-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	start := func() *collector.App {
		app, err := collector.New(collector.Options{Config: &cfg, Agents: agents, Users: testUsers()})
		if err != nil {
			t.Fatal(err)
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		if err := app.Start(ln); err != nil {
			t.Fatal(err)
		}
		return app
	}
	app := start()
	base := "http://" + app.Addr()
	for _, p := range []string{"/-/healthy", "/-/ready"} {
		if code, _ := get(t, base+p); code != 200 {
			t.Fatalf("%s = %d", p, code)
		}
	}
	end := time.Now()
	push(t, base+"/api/v1/write", "home-token", probeData("home-1", "home", end, false))
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, `bulwark_ingest_samples_total{agent="home-1"} 960`) ||
		!strings.Contains(body, "prometheus_tsdb_head_series 8") {
		t.Fatalf("/metrics lacks ingest or tsdb figures:\n%.2000s", body)
	}
	if err := app.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	app = start()
	defer app.Stop(context.Background())
	q := url.QueryEscape(`count_over_time(probe_success[1h])`)
	code, body := get(t, "http://"+app.Addr()+"/api/v1/query?query="+q)
	var pr struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(body), &pr)
	if code != 200 || len(pr.Data.Result) != 4 || pr.Data.Result[0].Value[1] != "120" {
		t.Fatalf("after restart: %d %s", code, body)
	}
}

// The query API answers bad requests the way Prometheus does.
func TestQueryErrors(t *testing.T) {
	app := startCollector(t)
	base := "http://" + app.Addr()
	cases := []struct {
		path, errType string
		code          int
	}{
		{"/api/v1/query?query=" + url.QueryEscape("sum(("), "bad_data", 400},
		{"/api/v1/query?query=up&time=yesterday", "bad_data", 400},
		{"/api/v1/query_range?query=up&start=10&end=5&step=1", "bad_data", 400},
		{"/api/v1/query_range?query=up&start=0&end=100000&step=1", "bad_data", 400},
		{"/api/v1/query_range?query=up&start=0&end=10&step=0", "bad_data", 400},
		{"/api/v1/series", "bad_data", 400},
		{"/api/v1/series?match[]=" + url.QueryEscape("{"), "bad_data", 400},
		{"/api/v1/label/bad-name/values", "bad_data", 400},
	}
	for _, c := range cases {
		code, body := get(t, base+c.path)
		var v struct{ Status, ErrorType, Error string }
		json.Unmarshal([]byte(body), &v)
		if code != c.code || v.Status != "error" || v.ErrorType != c.errType || v.Error == "" {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
	}
	// Scalars, strings and NaN print as Prometheus prints them.
	for q, want := range map[string]string{
		`1+1`:         `{"resultType":"scalar","result":[1700000000,"2"]}`,
		`"bulwark"`:   `{"resultType":"string","result":[1700000000,"bulwark"]}`,
		`vector(0/0)`: `{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"NaN"]}]}`,
		`vector(1/0)`: `{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"+Inf"]}]}`,
	} {
		_, body := get(t, base+"/api/v1/query?time=1700000000&query="+url.QueryEscape(q))
		if body != `{"status":"success","data":`+want+`}` {
			t.Errorf("%s: %s", q, body)
		}
	}
}
