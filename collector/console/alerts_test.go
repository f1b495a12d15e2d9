package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// get renders path of a console built from opts (an empty store unless
// given).
func get(t *testing.T, opts Options, path string) string {
	t.Helper()
	if opts.Engine == nil {
		opts.Engine = promql.NewEngine(promql.EngineOpts{MaxSamples: 1000, Timeout: time.Second})
		opts.Queryable = storage.QueryableFunc(func(int64, int64) (storage.Querier, error) { return storage.NoopQuerier(), nil })
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The alerts page lists firing before pending and pages before tickets,
// names each incident's shared cause and who took it, and escapes what
// rules and targets wrote.
func TestAlertsPage(t *testing.T) {
	since := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	state := AlertState{Enabled: true,
		Alerts: []Alert{
			{Name: "ServiceDownOnOneVantage", State: "firing", Severity: "ticket", Target: "grid-portal", Agent: "abroad-2", Since: since},
			{Name: "TargetNoData", State: "pending", Severity: "warning", Target: "e-id", Since: since},
			{Name: "ServiceDownEverywhere", State: "firing", Severity: "page", Target: "tax-office", Since: since,
				Summary: `<script>alert("x")</script> down`},
		},
		Incidents: []Incident{{Labels: "classification=down-everywhere", Receiver: "duty", Services: []string{"tax-office", "elections"},
			Cause: "Cathay DNS (XC), dns layer, common to 2 of 2 services", Ack: "vera at 2026-11-26 12:05 UTC: on it"}},
		Silences: []Silence{{ID: "s1", Matchers: "target=grid-portal", Window: `every "0 2 * * 0" for 2h0m0s (Europe/Berlin)`, By: "vera", Comment: "patching"}},
	}
	page := get(t, Options{Alerting: func() AlertState { return state }}, "/alerts")
	order := []string{`data-alert="ServiceDownEverywhere"`, `data-alert="ServiceDownOnOneVantage"`, `data-alert="TargetNoData"`}
	last := -1
	for _, s := range order {
		i := strings.Index(page, s)
		if i < last {
			t.Errorf("%s out of order (firing before pending, pages before tickets)", s)
		}
		last = i
	}
	for _, want := range []string{"2 firing, 3 active, 1 incidents, 1 silences", "Cathay DNS (XC), dns layer", "vera at 2026-11-26 12:05 UTC: on it",
		"2: tax-office, elections", `every &#34;0 2 * * 0&#34; for 2h0m0s (Europe/Berlin)`, "&lt;script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("alerts page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("an alert's summary reached the page unescaped")
	}
}
