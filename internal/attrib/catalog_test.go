package attrib

import "testing"

// The name index keeps ByName's rules: the most specific pattern wins,
// wildcards included; among equally specific patterns the first in the
// catalog; a later file's entry with the same id replaces the earlier.
func TestByNameIndex(t *testing.T) {
	a, err := parseCatalog("a.yaml", []byte(`providers:
  - {id: big, name: Big, country: US, kinds: [dns], ns_suffixes: [example.net, "ns-*.example.org"]}
  - {id: sub, name: Sub, country: DE, kinds: [dns], ns_suffixes: [eu.example.net]}
  - {id: wild, name: Wild, country: FR, kinds: [dns], ns_suffixes: ["*.example.com"]}
  - {id: exact, name: Exact, country: NL, kinds: [dns], ns_suffixes: [x.example.com]}
  - {id: twin, name: Twin, country: JP, kinds: [dns], ns_suffixes: [example.net]}
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseCatalog("b.yaml", []byte(`providers:
  - {id: sub, name: Sub Again, country: AT, kinds: [dns], ns_suffixes: [eu.example.net]}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := newCatalog([]*catalogFile{a, b})
	for name, want := range map[string]string{
		"ns1.example.net":     "big",  // first of two equal patterns
		"ns1.eu.example.net":  "sub",  // more labels win
		"EU.Example.NET.":     "sub",  // case and the root dot do not matter
		"ns-12.example.org":   "big",  // a wildcard label
		"ns12.example.org":    "",     // ... that must match
		"a.x.example.com":     "wild", // *.example.com and x.example.com are equally specific: first wins
		"example.net":         "big",  // the suffix itself
		"net":                 "",     // not a suffix of the pattern
		"ns1.example.network": "",     // labels, not strings
		"ns1.notexample.net":  "",
	} {
		p, _, ok := c.ByName("ns", name)
		got := ""
		if ok {
			got = p.ID
		}
		if got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if p, _, _ := c.ByName("ns", "ns1.eu.example.net"); p.Country != "AT" {
		t.Errorf("the later file's entry should replace the earlier: %+v", p)
	}
	if _, _, ok := c.ByName("mx", "ns1.example.net"); ok {
		t.Error("an ns pattern answered for mx")
	}
}
