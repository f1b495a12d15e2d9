package target

import (
	"slices"
	"strings"
	"testing"
)

// Every probe kind is declared once, in kinds; the labels table is keyed
// by the same names. A kind added to one and not the other fails here
// (agent/probe's TestEveryKindHasAProber guards the probers).
func TestKindsDeclaredOnce(t *testing.T) {
	all := Kinds()
	seen := map[string]bool{}
	for _, k := range all {
		if k == "" || k == "*" || seen[k] {
			t.Errorf("kind %q is empty, reserved or declared twice", k)
		}
		seen[k] = true
		if _, ok := proberLabels[k]; !ok {
			t.Errorf("kind %q has no entry in proberLabels (labels.go): declare the labels its prober writes", k)
		}
	}
	for k := range proberLabels {
		if k != "*" && !seen[k] {
			t.Errorf("proberLabels lists %q, which is no kind in kinds.go", k)
		}
	}
	for _, k := range append(CheckKinds(), AvailabilityKinds()...) {
		if !seen[k] {
			t.Errorf("%q is listed or votes but is no kind", k)
		}
	}
	if slices.Contains(CheckKinds(), Deps) {
		t.Errorf("%s runs on deps_schedule: a target must not list it", Deps)
	}
	// Fresh slices: a caller cannot change the table.
	CheckKinds()[0] = "mutated"
	if CheckKinds()[0] == "mutated" || Kinds()[0] == "mutated" {
		t.Error("CheckKinds hands out the table itself")
	}
}

// What Validate says of each kind a target lists is unchanged by the table
// (it was a switch): the same fields, the same sentences.
func TestValidateChecks(t *testing.T) {
	base := func() Target { return Target{ID: "x", Sector: "energy", Host: "example.test:25"} }
	for _, tc := range []struct {
		name   string
		edit   func(*Target)
		checks []string
		want   string // "field: msg", "" for none
	}{
		{"http without url", nil, []string{"http"}, "checks: the http check needs a url"},
		{"http with url", func(t *Target) { t.URL = "https://example.test/" }, []string{"http"}, ""},
		{"tls", nil, []string{"tls"}, ""},
		{"dns", nil, []string{"dns"}, ""},
		{"tcp with host", nil, []string{"tcp"}, ""},
		{"tcp without address", func(t *Target) { t.Host = ""; t.URL = "https://example.test/" }, []string{"tcp"}, "tcp: the tcp check needs tcp.address or host (host:port)"},
		{"tcp with address", func(t *Target) { t.Host = ""; t.URL = "https://example.test/"; t.TCP.Address = "example.test:25" }, []string{"tcp"}, ""},
		{"deps is not listed", nil, []string{"deps"}, `checks: unknown check "deps" (known: http, tls, dns, tcp)`},
		{"unknown", nil, []string{"icmp"}, `checks: unknown check "icmp" (known: http, tls, dns, tcp)`},
	} {
		tg := base()
		if tc.edit != nil {
			tc.edit(&tg)
		}
		tg.Checks = tc.checks
		var got []string
		for _, p := range tg.Validate() {
			got = append(got, p.Field+": "+p.Msg)
		}
		if g := strings.Join(got, "; "); g != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, g, tc.want)
		}
	}
}

func TestAvailabilityKinds(t *testing.T) {
	if g := strings.Join(AvailabilityKinds(), "|"); g != "http|dns|tcp" {
		t.Errorf("availability kinds %s, want http|dns|tcp (the vantage quorum's votes)", g)
	}
}
