package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// maxPageBytes is the page weight issue 23 allows a console page.
const maxPageBytes = 300 << 10

// world10k is 10,000 services in 8 sectors probed by three agents (two
// at home, one abroad), four runs each over the last two minutes; one in
// fifty is down, one in a hundred down from abroad only.
func world10k(b *testing.B) (Options, func()) {
	b.Helper()
	db, err := tsdb.Open(b.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	sectors := []string{"energy", "finance", "government", "health", "transport", "water", "telecom", "defence"}
	agents := []struct{ id, vantage string }{{"home-1", "home"}, {"home-2", "home"}, {"abroad-1", "abroad"}}
	targets := make([]target.Target, 10000)
	app := db.Appender(context.Background())
	for i := range targets {
		t := target.Target{ID: fmt.Sprintf("service-%05d", i), Sector: sectors[i%len(sectors)], Criticality: 1 + i%3}
		targets[i] = t
		for _, a := range agents {
			up := 1.0
			if i%50 == 0 || (i%100 == 1 && a.vantage == "abroad") {
				up = 0
			}
			base := []string{"agent", a.id, "vantage", a.vantage, "check", "http", "sector", t.Sector, "target", t.ID}
			for run := range 4 {
				ts := now.Add(-time.Duration(10+30*run) * time.Second).UnixMilli()
				for _, m := range []struct {
					name string
					v    float64
				}{{"probe_success", up}, {"probe_duration_seconds", 0.05}, {"probe_http_status_code", 200},
					{"probe_ssl_earliest_cert_expiry", float64(now.Add(60 * 24 * time.Hour).Unix())}} {
					ls := labels.FromStrings(append([]string{"__name__", m.name}, base...)...)
					if _, err := app.Append(0, ls, ts, m.v); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	opts := Options{Engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute}),
		Queryable: db, Now: func() time.Time { return now }, Targets: func() []target.Target { return targets }}
	return opts, func() { db.Close() }
}

// benchPage serves path from a console over the 10k world and reports
// the page weight, failing when it passes maxPageBytes.
func benchPage(b *testing.B, path string) {
	opts, done := world10k(b)
	defer done()
	c, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d", path, rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
	if size > maxPageBytes {
		b.Errorf("%s weighs %d bytes, more than %d", path, size, maxPageBytes)
	}
}

// BenchmarkOverview10k: the overview with 10,000 services (issue 23:
// under 300 ms of server time, under 300 KB).
func BenchmarkOverview10k(b *testing.B) { benchPage(b, "/") }

// BenchmarkServicesPage10k: the first page of the services list with
// 10,000 services, and a filtered search.
func BenchmarkServicesPage10k(b *testing.B) {
	b.Run("first", func(b *testing.B) { benchPage(b, "/services") })
	b.Run("filtered", func(b *testing.B) { benchPage(b, "/services?state=down&sector=energy&q=service-0") })
}
