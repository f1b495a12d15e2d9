package depgraph

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Issue 23: the what-if answered from 11 graphs of 24 services without
// saying so. Its answer carries observed and total, and a line saying so.
func TestWhatIfCompleteness(t *testing.T) {
	var known []string
	var graphs []*Service
	for i := range 24 {
		known = append(known, fmt.Sprintf("s%02d", i))
		if i < 11 {
			graphs = append(graphs, &Service{Target: known[i], Sector: "energy"})
		}
	}
	w := Evaluate(graphs, Cut{Countries: []string{"XC"}}, nil)
	w.SetCompleteness(graphs, known)
	if w.Observed != 11 || w.Total != 24 || w.Completeness() != "graphs for 11 of 24 services; 13 not yet observed" {
		t.Errorf("observed %d of %d: %q", w.Observed, w.Total, w.Completeness())
	}
	b, _ := json.Marshal(w)
	if !strings.Contains(string(b), `"observed":11,"total":24`) {
		t.Errorf("API answer lacks observed/total: %s", b)
	}
}
