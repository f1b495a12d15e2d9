package console

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"
)

// Issue 21: the overview reads blackbox_exporter's names, the unlabelled
// probe_duration_seconds for latency (not the HTTP phases in
// probe_http_duration_seconds{phase}) and probe_ssl_earliest_cert_expiry.
func TestOverviewReadsBlackboxNames(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Truncate(time.Second)
	app := db.Appender(context.Background())
	add := func(v float64, kv ...string) {
		ls := labels.FromStrings(append([]string{"agent", "home-1", "vantage", "home", "check", "http", "sector", "energy", "target", "grid-portal"}, kv...)...)
		if _, err := app.Append(0, ls, now.Add(-10*time.Second).UnixMilli(), v); err != nil {
			t.Fatal(err)
		}
	}
	add(1, "__name__", "probe_success")
	add(0.25, "__name__", "probe_duration_seconds")
	add(9, "__name__", "probe_http_duration_seconds", "phase", "transfer")
	add(200, "__name__", "probe_http_status_code")
	add(float64(now.Add(10*24*time.Hour).Unix()), "__name__", "probe_ssl_earliest_cert_expiry")
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 100000, Timeout: 10 * time.Second}),
		Queryable: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sectors, err := c.Overview(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(sectors) != 1 || len(sectors[0].Services) != 1 || len(sectors[0].Services[0].Checks) != 1 {
		t.Fatalf("overview: %+v", sectors)
	}
	ch := sectors[0].Services[0].Checks[0]
	if ch.Latency != 0.25 || ch.Status != 200 || math.Abs(ch.CertDays-10) > 0.01 {
		t.Fatalf("check %+v: want latency 0.25 s, status 200, certificate 10 days", ch)
	}
}
