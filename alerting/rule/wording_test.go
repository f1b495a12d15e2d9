package rule

import (
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
)

// The built-in summaries agree with their numbers ("1 agent abroad
// agrees", not "1 agents abroad agree") and every built-in alert has a
// text for its resolution that does not repeat the problem (issue 20,
// defect 12).
func TestBuiltinWording(t *testing.T) {
	targets := []TargetInfo{{ID: "portal", Sector: "government", Interval: 15 * time.Second}}
	w := newWorld(t, Builtin{DownFor: DurationOf(15 * time.Second)}, targets)
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	for i := 0; i <= 4; i++ {
		ts := start.Add(time.Duration(i) * 15 * time.Second)
		for _, ag := range [][3]string{{"home-1", "home", "1"}, {"home-2", "home", "1"}, {"abroad-1", "abroad", "0"}} {
			v := 1.0
			if ag[2] == "0" {
				v = 0
			}
			w.add(t, ts, v, "__name__", "probe_success", "target", "portal", "sector", "government", "check", "http", "agent", ag[0], "vantage", ag[1])
		}
		w.eval(ts)
	}
	var summary, recovered string
	for _, r := range w.mgr.AlertingRules() {
		if r.Annotations().Get(alerting.ResolvedAnnotation) == "" {
			t.Errorf("%s has no %q annotation", r.Name(), alerting.ResolvedAnnotation)
		}
		for _, a := range r.ActiveAlerts() {
			if r.Name() == "ServiceDownFromAbroadOnly" {
				summary, recovered = a.Annotations.Get("summary"), a.Annotations.Get(alerting.ResolvedAnnotation)
			}
		}
	}
	if want := "portal answers at home but not from abroad (1 agent abroad agrees): a cut of international paths, or geo-blocking."; summary != want {
		t.Errorf("summary %q, want %q", summary, want)
	}
	if want := "portal is up again from abroad."; recovered != want {
		t.Errorf("resolved text %q, want %q", recovered, want)
	}
}
