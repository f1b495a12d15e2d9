package ingest

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// names returns how many series of each name are stored.
func (f *fixture) names(t *testing.T) map[string]int {
	t.Helper()
	q, err := f.db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	out := map[string]int{}
	for set.Next() {
		out[set.At().Labels().Get("__name__")]++
	}
	return out
}

// collectorWritten are examples of every kind of name the collector
// writes or its rules read as its own (collector's TestAgentTokenHostility
// checks the table against what a running collector really writes).
var collectorWritten = []string{
	"bulwark_target_availability", "bulwark_target_cert_warning_days", "bulwark_target_latency_objective_seconds",
	"bulwark_target_interval_seconds", "bulwark_agent_last_push_timestamp_seconds", "bulwark_layer_state",
	"bulwark_dependency_info", "bulwark_dependency_drift_total", "bulwark_foreign_dependency_score",
	"bulwark_ingest_requests_total", "bulwark_notifications_total", "prometheus_rule_group_last_duration_seconds",
	"ALERTS", "ALERTS_FOR_STATE", "target:probe_success:avg",
}

// Issue 19 (1, 2): an agent pushing a series the collector writes forged
// a page and silenced a rule. Every such name is refused per series,
// counted as reserved_name, and never stored; the agent's own health
// (bulwark_agent_*) and its probe results in the same request are stored,
// and stay so once cached.
func TestReservedNamesRefused(t *testing.T) {
	f := newFixture(t, Limits{})
	ts := f.now.UnixMilli()
	ok := []wire.Series{series("probe_success", "grid-portal", ts, 1), series("bulwark_agent_queue_pending_samples", "", ts, 3)}
	for round := range 2 {
		ss := append([]wire.Series(nil), ok...)
		for _, n := range collectorWritten {
			ss = append(ss, series(n, "grid-portal", ts+int64(round), 1, wire.Label{Name: "classification", Value: "down-everywhere"}))
		}
		for i := range ss {
			ss[i].Samples[0].Timestamp = ts + int64(round)
		}
		code, msg, written, _ := f.postFull(t, body(ss...))
		if code != http.StatusBadRequest || written != len(ok) || !strings.Contains(msg, "is a series the collector writes, not an agent") {
			t.Fatalf("round %d: %d written=%d %q", round, code, written, msg)
		}
	}
	got := f.names(t)
	for _, n := range collectorWritten {
		if got[n] != 0 {
			t.Errorf("%s was stored from an agent", n)
		}
	}
	if got["probe_success"] != 1 || got["bulwark_agent_queue_pending_samples"] != 1 {
		t.Errorf("the agent's own series were not stored: %v", got)
	}
	h := f.srv.Config.Handler.(*Handler)
	if n := testutil.ToFloat64(h.metrics.refused.WithLabelValues("reserved_name")); n != float64(2*len(collectorWritten)) {
		t.Errorf("refused_samples_total{reason=reserved_name} = %v, want %d", n, 2*len(collectorWritten))
	}
}

func TestReserved(t *testing.T) {
	for _, n := range collectorWritten {
		if !Reserved(n) {
			t.Errorf("%s not reserved", n)
		}
	}
	for _, n := range []string{"probe_success", "probe_duration_seconds", "bulwark_agent_queue_pending_samples",
		"bulwark_agent_probes_total", "bulwark_agent_schedule_lateness_seconds_bucket", "up", "go_goroutines", "ALERTS_x"} {
		if Reserved(n) {
			t.Errorf("%s reserved, but agents push it", n)
		}
	}
}

// Issue 19 (3): 31 labels of 2,000 bytes each (30 here, with the limit of 32) made 63,252 series of 62 KB
// from one agent in 55 s, under the series limit. Now label values, the
// labels of a series and the bytes of new series per agent per minute
// are bounded: past the rate the new series wait (429, Retry-After), the
// known ones are stored, and the head stays small.
func TestFatSeries(t *testing.T) {
	f := newFixture(t, Limits{})
	ts := f.now.UnixMilli()
	fat := func(i, labels, size int) wire.Series {
		var extra []wire.Label
		for j := range labels {
			extra = append(extra, wire.Label{Name: fmt.Sprintf("l%02d", j), Value: fmt.Sprintf("%0*d", size, i)})
		}
		return series("probe_success", "grid", ts, 1, extra...)
	}
	code, msg, _, _ := f.postFull(t, body(fat(0, 30, 2000)))
	if code != http.StatusBadRequest || !strings.Contains(msg, "longer than 1024 bytes") {
		t.Fatalf("2,000-byte values: %d %q", code, msg)
	}
	code, msg, _, _ = f.postFull(t, body(fat(0, 30, 1000)))
	if code != http.StatusBadRequest || !strings.Contains(msg, "bytes of labels, more than the limit of 4096") {
		t.Fatalf("30 values of 1,000 bytes: %d %q", code, msg)
	}
	// The attack within the per-series limits: 4 values of 1,000 bytes.
	known := series("probe_success", "known", ts, 1)
	if code, msg := f.post(t, "home-token", body(known)); code != http.StatusNoContent {
		t.Fatalf("%d %s", code, msg)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var last int
	var retry string
	for r := range 40 {
		ss := []wire.Series{known}
		ss[0].Samples = []wire.Sample{{Value: 1, Timestamp: ts + int64(r) + 1}}
		for i := range 500 {
			ss = append(ss, fat(r*500+i, 4, 1000))
		}
		code, msg, last, retry = f.postFull(t, body(ss...))
		if r == 39 && (code != http.StatusTooManyRequests || retry == "" || last != 1 || !strings.Contains(msg, "bytes of new series per minute")) {
			t.Fatalf("over the new series rate: %d written=%d Retry-After=%q %.300s", code, last, retry, msg)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	stored := f.names(t)["probe_success"] - 1
	// 16 MiB of burst at ~4 KB a series, nothing more with the clock still.
	if stored > 16<<20/4000 {
		t.Errorf("%d fat series stored, over the burst of 16 MiB", stored)
	}
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("40 requests of 500 fat series: %d stored, heap grew %d MiB, Retry-After %s", stored, grew>>20, retry)
	if grew > 64<<20 {
		t.Errorf("heap grew %d MiB for 20,000 fat series refused, over the 64 MiB bound", grew>>20)
	}
	// A minute later the agent may create a minute's worth again.
	f.now = f.now.Add(time.Minute)
	code, _, written, _ := f.postFull(t, body(fat(1_000_000, 4, 1000)))
	if code != http.StatusNoContent || written != 1 {
		t.Fatalf("a minute later: %d written=%d", code, written)
	}
}

// Issue 19 (extra): remote-write accepted text/plain. A body of another
// type is refused 415, as Prometheus's receiver does; none, or
// application/x-protobuf (of remote-write 1.0), is taken.
func TestContentType(t *testing.T) {
	f := newFixture(t, Limits{})
	ts := f.now.UnixMilli()
	for i, c := range []struct {
		ct   string
		code int
	}{
		{"", 204}, {"application/x-protobuf", 204}, {"application/x-protobuf;proto=prometheus.WriteRequest", 204},
		{"text/plain", 415}, {"application/json", 415}, {"application/x-protobuf;proto=io.prometheus.write.v2.Request", 415}, {";;", 415},
	} {
		var hdr []string
		if c.ct != "" {
			hdr = []string{"Content-Type", c.ct}
		}
		code, msg := f.post(t, "home-token", body(series("probe_success", "grid", ts+int64(i), 1)), hdr...)
		if code != c.code || (code == 415 && !strings.Contains(msg, "is not supported")) {
			t.Errorf("Content-Type %q: %d %s, want %d", c.ct, code, msg, c.code)
		}
	}
}
