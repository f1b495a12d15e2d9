package rule

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// classes queries the availability classification of each target at ts,
// as a rule would: "target=classification".
func (w *world) classes(t *testing.T, ts time.Time) []string {
	t.Helper()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute})
	q, err := engine.NewInstantQuery(context.Background(), w.db, nil, AvailabilityMetric, ts)
	if err != nil {
		t.Fatal(err)
	}
	vec, err := q.Exec(context.Background()).Vector()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range vec {
		out = append(out, s.Metric.Get("target")+"="+s.Metric.Get("classification"))
	}
	slices.Sort(out)
	return out
}

// A classification holds only while it is true: when an outage ends, its
// series is ended at once (not left for the engine's five-minute
// look-back), also when the collector restarted in between. Votes in no
// pattern are partial; a failed TLS check is not a vote.
func TestAvailabilityEndsAtOnce(t *testing.T) {
	targets := []TargetInfo{{ID: "portal", Sector: "government", Interval: 15 * time.Second}}
	w := newWorld(t, Builtin{}, targets)
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	voters := [4][2]string{{"home-1", "home"}, {"home-2", "home"}, {"abroad-1", "abroad"}, {"abroad-2", "abroad"}}
	step := func(i int, http [4]float64) time.Time {
		ts := start.Add(time.Duration(i) * 15 * time.Second)
		for j, ag := range voters {
			w.add(t, ts, http[j], "__name__", "probe_success", "target", "portal", "sector", "government", "check", "http", "agent", ag[0], "vantage", ag[1])
			w.add(t, ts, 0, "__name__", "probe_success", "target", "portal", "sector", "government", "check", "tls", "agent", ag[0], "vantage", ag[1])
		}
		return ts
	}
	for i, tc := range []struct {
		votes [4]float64
		want  string
	}{
		{[4]float64{0, 0, 0, 0}, "portal=down-everywhere"},
		{[4]float64{1, 1, 1, 1}, "portal=up"},
		{[4]float64{0, 1, 0, 1}, "portal=partial"},
		{[4]float64{1, 1, 0, 1}, "portal=down-on-one-vantage"},
	} {
		ts := step(i, tc.votes)
		if err := w.mgr.writeAvailability(context.Background(), ts); err != nil {
			t.Fatal(err)
		}
		if got := w.classes(t, ts); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("step %d, votes %v: %v, want [%s]", i, tc.votes, got, tc.want)
		}
	}
	// A restart: a new manager on the same storage ends what the old one wrote.
	w2 := newWorld(t, Builtin{}, targets)
	w2.db.Close()
	w2.db = w.db
	w2.mgr.opts.Storage = w.db
	ts := step(4, [4]float64{1, 1, 1, 1})
	if err := w2.mgr.writeAvailability(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
	if got := w.classes(t, ts); !slices.Equal(got, []string{"portal=up"}) {
		t.Errorf("after a restart: %v, want [portal=up]", got)
	}
	// Silence: two intervals without a report is no-data, and nothing else.
	ts = ts.Add(31 * time.Second)
	if err := w2.mgr.writeAvailability(context.Background(), ts); err != nil {
		t.Fatal(err)
	}
	if got := w.classes(t, ts); !slices.Equal(got, []string{"portal=no-data"}) {
		t.Errorf("after 31s of silence: %v, want [portal=no-data]", got)
	}
}

// No data is counted from when a target could first have reported (issue
// 20, defect 14: TargetNoData fired 2.8 s after a fresh start, before any
// agent had probed): not before two of its intervals after the collector
// first saw it, here evaluated every second from the start.
func TestNoDataNotBeforeTwoIntervals(t *testing.T) {
	targets := []TargetInfo{{ID: "portal", Sector: "government", Interval: 15 * time.Second},
		{ID: "silent", Sector: "government", Interval: 15 * time.Second}}
	w := newWorld(t, Builtin{}, targets)
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	for i := 0; i <= 60; i++ {
		ts := start.Add(time.Duration(i) * time.Second)
		if i >= 12 && i%15 == 12 { // the first probe lands 12 s in
			w.add(t, ts, 1, "__name__", "probe_success", "target", "portal", "sector", "government", "check", "http", "agent", "home-1", "vantage", "home")
		}
		w.eval(ts)
		got := w.active("TargetNoData")
		switch {
		case i <= 30 && len(got) > 0:
			t.Fatalf("%ds after start: %v, before two intervals could pass", i, got)
		case i >= 46 && !slices.Equal(got, []string{"silent/=firing"}):
			t.Fatalf("%ds after start: %v, want [silent/=firing]", i, got)
		}
	}
}
