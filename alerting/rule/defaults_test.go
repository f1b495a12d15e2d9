package rule

import (
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// What one caller of WithDefaults gets is its own: changing it changes
// neither the defaults the next caller gets nor the Builtin it came from.
func TestWithDefaultsHandsOutFreshValues(t *testing.T) {
	first := Builtin{}.WithDefaults()
	first.HomeVantages[0] = "mutated"
	first.CertDays[1] = 99
	*first.DownFor = 0
	next := Builtin{}.WithDefaults()
	if !slices.Equal(next.HomeVantages, []string{"home"}) {
		t.Errorf("home vantages after a caller changed its copy: %v, want [home]", next.HomeVantages)
	}
	if next.CertDays[1] != 30 {
		t.Errorf("cert_days[1] after a caller changed its copy: %d, want 30", next.CertDays[1])
	}
	if *next.DownFor != configfile.Duration(time.Minute) {
		t.Errorf("down_for after a caller changed its copy: %v, want 1m", *next.DownFor)
	}
	if d := DefaultBuiltin(); d.HomeVantages[0] != "home" || d.CertDays[1] != 30 || *d.DownFor != configfile.Duration(time.Minute) {
		t.Errorf("DefaultBuiltin after a caller changed its copy: %+v", d)
	}

	own := Builtin{Disabled: []string{"AgentSilent"}, HomeVantages: []string{"here"},
		CertDays: map[int]int{1: 5}, DownFor: DurationOf(time.Second)}
	got := own.WithDefaults()
	got.Disabled[0], got.HomeVantages[0], got.CertDays[1], *got.DownFor = "x", "x", 6, 0
	if own.Disabled[0] != "AgentSilent" || own.HomeVantages[0] != "here" || own.CertDays[1] != 5 || *own.DownFor != configfile.Duration(time.Second) {
		t.Errorf("changing what WithDefaults returned changed the Builtin it came from: %+v", own)
	}
}
