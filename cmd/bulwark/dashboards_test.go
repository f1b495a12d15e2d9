package main

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/dashboards"
)

// TestDashboardQueriesOnDemoWorld evaluates every panel query of the
// shipped dashboards against the demo world (a collector, two agents,
// their own metrics, alerts and notifications): no panel silently shows
// nothing. A query that may rightly be empty (nothing down, no drift)
// has a no-value text on its panel instead.
func TestDashboardQueriesOnDemoWorld(t *testing.T) {
	t.Parallel()
	dw := startDrillWorld(t)
	boards, err := dashboards.All()
	if err != nil {
		t.Fatal(err)
	}
	// Wait for what the panels read: graphs, availability, an alert told to on-call, agents' own metrics.
	eventually(t, 90*time.Second, "the demo world has graphs, alerts, a notification and agent metrics", func() bool {
		return len(dw.query(t, `bulwark_dependency_info`)) > 0 && len(dw.query(t, `ALERTS{alertstate="firing"}`)) > 0 &&
			len(dw.query(t, `bulwark_notifications_latency_seconds_count > 0`)) > 0 && len(dw.query(t, `bulwark_agent_schedule_lateness_seconds_count`)) > 0 &&
			len(dw.query(t, `bulwark_agent_last_push_timestamp_seconds`)) > 0
	})
	time.Sleep(3 * time.Second) // a second self-metrics sample, for rates
	n := 0
	for _, b := range boards {
		for _, q := range b.Queries {
			n++
			expr := dashboards.Expand(q.Expr, "tax-office")
			values, err := panelValues(t, dw, expr)
			switch {
			case err != nil:
				t.Errorf("%s / %s: %v\n%s", q.Dashboard, q.Panel, err, expr)
			case len(values) == 0 && !q.Empty:
				t.Errorf("%s / %s shows nothing on the demo world:\n%s", q.Dashboard, q.Panel, expr)
			case len(values) > 0 && allNaN(values):
				t.Errorf("%s / %s shows only NaN on the demo world:\n%s", q.Dashboard, q.Panel, expr)
			}
		}
	}
	t.Logf("evaluated %d panel queries of %d dashboards", n, len(boards))
}

func panelValues(t *testing.T, dw *drillWorld, expr string) ([]float64, error) {
	b, err := request(t.Context(), http.MethodGet, dw.base, "/api/v1/query?query="+url.QueryEscape(expr), dw.opFile, nil)
	if err != nil {
		return nil, err
	}
	var res struct {
		Data struct {
			ResultType string
			Result     json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	var out []float64
	switch res.Data.ResultType {
	case "vector":
		var v []struct{ Value [2]any }
		json.Unmarshal(res.Data.Result, &v)
		for _, s := range v {
			f, _ := strconv.ParseFloat(s.Value[1].(string), 64)
			out = append(out, f)
		}
	case "scalar":
		var v [2]any
		json.Unmarshal(res.Data.Result, &v)
		f, _ := strconv.ParseFloat(strings.Trim(v[1].(string), `"`), 64)
		out = append(out, f)
	}
	return out, nil
}

func allNaN(vs []float64) bool {
	for _, v := range vs {
		if !math.IsNaN(v) {
			return false
		}
	}
	return true
}
