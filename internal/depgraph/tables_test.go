package depgraph

import (
	"math"
	"slices"
	"testing"
)

// The score's tables, as they were when they were package maps; Layers
// hands out a fresh slice each call.
func TestScoreTables(t *testing.T) {
	want := map[string]float64{"hosting": 0.30, "dns": 0.25, "cdn": 0.15, "ca": 0.10, "mail": 0.10, "subresource": 0.10}
	ls := Layers()
	if !slices.Equal(ls, []string{"hosting", "cdn", "dns", "ca", "mail", "subresource"}) {
		t.Errorf("Layers() = %v", ls)
	}
	sum := 0.0
	for _, l := range ls {
		if Weight(l) != want[l] {
			t.Errorf("Weight(%q) = %v, want %v", l, Weight(l), want[l])
		}
		sum += Weight(l)
	}
	if math.Abs(sum-1) > 1e-9 || Weight("") != 0 || Weight("nope") != 0 {
		t.Errorf("weights sum to %v, Weight(\"\") %v", sum, Weight(""))
	}
	for s, v := range map[string]float64{Domestic: 0, ForeignRedundant: 0.25, ForeignMulti: 0.75, ForeignCritical: 1, Unattributed: 0, "": 0} {
		if StateValue(s) != v {
			t.Errorf("StateValue(%q) = %v, want %v", s, StateValue(s), v)
		}
	}
	ls[0] = "mutated"
	if Layers()[0] != "hosting" {
		t.Error("changing what Layers returned changed the next caller's")
	}
}
