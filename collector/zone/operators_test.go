package zone

import (
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// Issue 10: "a provider whose four name servers sit under four top-level
// domains is one provider, and a domain served only by it depends on it
// alone" holds for operators no catalog names too; two unknown domains
// that share a label but are used together only once stay apart.
func TestUnknownOperatorUnderSeveralTLDs(t *testing.T) {
	zone := `$ORIGIN example.
@ 3600 IN SOA ns.example. h.example. 1 7200 3600 1209600 3600
a 3600 IN NS a8.hostx.com.
a 3600 IN NS b8.hostx.net.
b 3600 IN NS a8.hostx.com.
b 3600 IN NS b8.hostx.org.
c 3600 IN NS b8.hostx.net.
c 3600 IN NS b8.hostx.org.
d 3600 IN NS a8.hostx.com.
e 3600 IN NS ns1.dnsy.com.
e 3600 IN NS ns1.dnsy.net.
f 3600 IN NS ns1.dnsy.com.
`
	s, err := Parse(strings.NewReader(zone), "test.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := attrib.LoadCatalog()
	an := Analyze(s, &attrib.Attributor{Catalog: cat}, &attrib.Policy{Home: "US"}, nil)
	want := map[string]string{"domain:hostx.com": "domain:hostx.com", "domain:hostx.net": "domain:hostx.com", "domain:hostx.org": "domain:hostx.com"}
	if len(an.Operators) != len(want) {
		t.Fatalf("groups %v, want %v", an.Operators, want)
	}
	for k, v := range want {
		if an.Operators[k] != v {
			t.Errorf("%s -> %s, want %s", k, an.Operators[k], v)
		}
	}
	r := an.Report(true)
	rows := map[string]ProviderRow{}
	for _, p := range r.Providers {
		rows[p.Provider] = p
	}
	if p := rows["domain:hostx.com"]; p.Domains != 4 || p.Critical != 4 || p.Name != "domain:hostx.com (also hostx.net, hostx.org)" {
		t.Errorf("hostx: %+v, want 4 domains, all on it alone", p)
	}
	if p := rows["domain:dnsy.com"]; p.Domains != 2 || p.Critical != 1 {
		t.Errorf("dnsy.com used together with dnsy.net once only: %+v", p)
	}
	if r.Headline.SingleProvider != 5 {
		t.Errorf("single provider: %d, want 5 (all but e)", r.Headline.SingleProvider)
	}
	// A cut may name any of the operator's domains, with or without "domain:".
	for _, name := range []string{"hostx.org", "domain:hostx.net", "domain:hostx.com"} {
		cut := an.ResolveCut(depgraph.Cut{Providers: []string{name}})
		if err := cut.Check(an.Services, cat); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := depgraph.Evaluate(an.Services, cut, nil); w.Totals[depgraph.Lost] != 4 {
			t.Errorf("cut %s: %d lost, want 4 (a, b, c, d)", name, w.Totals[depgraph.Lost])
		}
	}
	if cut := an.ResolveCut(depgraph.Cut{Providers: []string{"dnsy.net"}}); cut.Providers[0] != "domain:dnsy.net" {
		t.Errorf("a bare unknown name: %v", cut.Providers)
	}
}
