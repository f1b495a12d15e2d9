package rule

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
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
		if err := w.mgr.writeAvailability(context.Background(), ts, nil); err != nil {
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
	if err := w2.mgr.writeAvailability(context.Background(), ts, nil); err != nil {
		t.Fatal(err)
	}
	if got := w.classes(t, ts); !slices.Equal(got, []string{"portal=up"}) {
		t.Errorf("after a restart: %v, want [portal=up]", got)
	}
	// Silence: two intervals without a report is no-data, and nothing else.
	ts = ts.Add(31 * time.Second)
	if err := w2.mgr.writeAvailability(context.Background(), ts, nil); err != nil {
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

// Results that arrive are tallied at the availability group's next
// evaluation (within a second), not at the built-in group's: an outage is
// told a result's arrival plus about a second, whatever the evaluation
// interval (issue 20, evaluation on arrival). A target without new
// results keeps its classification until the built-in group's tally.
func TestAvailabilityOnArrival(t *testing.T) {
	targets := []TargetInfo{{ID: "portal", Sector: "government", Interval: 5 * time.Second},
		{ID: "grid", Sector: "energy", Interval: 5 * time.Second}}
	w := newWorld(t, Builtin{DownFor: DurationOf(0)}, targets)
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	report := func(ts time.Time, tgt string, v float64) {
		for _, ag := range [][2]string{{"home-1", "home"}, {"abroad-1", "abroad"}} {
			w.add(t, ts, v, "__name__", "probe_success", "target", tgt, "sector", "government", "check", "http", "agent", ag[0], "vantage", ag[1])
		}
	}
	report(start, "portal", 1)
	report(start, "grid", 1)
	w.eval(start) // the built-in group's tally: both up
	var avail *rules.Group
	for _, g := range w.mgr.Groups() {
		if g.Name() == AvailabilityGroup {
			avail = g
		}
	}
	if avail == nil || avail.Interval() != time.Second {
		t.Fatalf("availability group %v", avail)
	}
	// Both go down 3 s later; only portal's results are said to arrive.
	at := start.Add(3 * time.Second)
	report(at, "portal", 0)
	report(at, "grid", 0)
	w.mgr.Arrived([]string{"portal", "portal"})
	w.mgr.evalIteration(context.Background(), avail, at.Add(time.Second))
	if got := w.classes(t, at.Add(time.Second)); !slices.Equal(got, []string{"grid=up", "portal=down-everywhere"}) {
		t.Errorf("after portal's results arrived: %v", got)
	}
	if got := w.active("ServiceDownEverywhere"); !slices.Equal(got, []string{"portal/=firing"}) {
		t.Errorf("a second after the results arrived: %v, want [portal/=firing]", got)
	}
	// Nothing new: the next evaluation tallies nothing, and the built-in
	// group's tally then takes every target.
	w.mgr.evalIteration(context.Background(), avail, at.Add(2*time.Second))
	w.eval(at.Add(5 * time.Second))
	if got := w.classes(t, at.Add(5*time.Second)); !slices.Equal(got, []string{"grid=down-everywhere", "portal=down-everywhere"}) {
		t.Errorf("after the built-in group's tally: %v", got)
	}
	// A result stamped after the evaluation that takes it (the evaluation
	// ran late) is tallied at the next one, without a new arrival.
	report(at.Add(7*time.Second), "portal", 1)
	w.mgr.Arrived([]string{"portal"})
	w.mgr.evalIteration(context.Background(), avail, at.Add(6*time.Second))
	w.mgr.evalIteration(context.Background(), avail, at.Add(8*time.Second))
	if got := w.classes(t, at.Add(8*time.Second)); !slices.Equal(got, []string{"grid=down-everywhere", "portal=up"}) {
		t.Errorf("a result stamped after its first tally: %v", got)
	}
}
