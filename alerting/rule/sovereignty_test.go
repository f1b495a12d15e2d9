package rule

import (
	"slices"
	"testing"
	"time"
)

// active lists the alerts of one rule that are pending or firing, by target.
func (w *world) active(name string) []string {
	var out []string
	for _, r := range w.mgr.AlertingRules() {
		if r.Name() != name {
			continue
		}
		for _, a := range r.ActiveAlerts() {
			out = append(out, a.Labels.Get("target")+"/"+a.Labels.Get("layer")+"="+a.State.String())
		}
	}
	slices.Sort(out)
	return out
}

// The first sight of a foreign-critical layer is its baseline, not a page
// (issue 20, defect 10): a fresh install whose services already depend on
// a lone foreign provider raises nothing, however long it runs; a layer
// seen domestic first that becomes foreign-critical does fire. A layer
// that goes unobserved for a while (a failing probe) is no change either.
func TestForeignCriticalLayerNewBaseline(t *testing.T) {
	w := newWorld(t, Builtin{}, nil)
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	state := func(tgt, layer, st string, ts time.Time) {
		w.add(t, ts, 1, "__name__", "bulwark_layer_state", "target", tgt, "sector", "energy", "layer", layer, "state", st)
	}
	for i := 0; i <= 60; i++ { // 30 minutes, every 30 s
		ts := start.Add(time.Duration(i) * 30 * time.Second)
		state("gas-transport", "dns", "foreign-critical", ts) // from first sight
		if i%5 != 2 {                                         // gaps: probes that failed
			state("heat-network", "subresource", "foreign-critical", ts)
		}
		if i < 10 { // domestic for five minutes, then a lone foreign provider
			state("water-utility", "dns", "domestic", ts)
		} else {
			state("water-utility", "dns", "foreign-critical", ts)
		}
		w.eval(ts)
		for _, a := range w.active("ForeignCriticalLayerNew") {
			if a != "water-utility/dns=pending" && a != "water-utility/dns=firing" {
				t.Fatalf("at %v: %s: the first sight of a layer is not new", ts.Sub(start), a)
			}
		}
	}
	if got := w.active("ForeignCriticalLayerNew"); !slices.Equal(got, []string{"water-utility/dns=firing"}) {
		t.Errorf("after a real change: %v, want [water-utility/dns=firing]", got)
	}
}
