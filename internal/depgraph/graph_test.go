package depgraph

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/agent/probe"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// observe runs the agent's dependency probe against a demo service and
// turns its samples into observations, as the collector reads them.
func observe(t *testing.T, w *demo.World, s *demo.Service) []Observation {
	t.Helper()
	res := probe.Run(context.Background(), "deps", &target.Target{ID: s.ID, URL: s.URL, Timeout: configfile.Duration(5 * time.Second)},
		&probe.Env{Resolver: w.DNS.Addr, RootCAs: w.Roots, SourceAddr: demo.HomeSource()})
	if !res.Success {
		t.Fatalf("deps %s: %v", s.ID, res.Err)
	}
	var obs []Observation
	for _, m := range res.Metrics {
		if m.Name != "probe_dependency_info" {
			continue
		}
		kv := map[string]string{}
		for i := 0; i+1 < len(m.Labels); i += 2 {
			kv[m.Labels[i]] = m.Labels[i+1]
		}
		obs = append(obs, Observation{Layer: kv["layer"], Kind: kv["kind"], Name: kv["name"], Addr: kv["addr"],
			Org: kv["organization"], Country: kv["country"], SHA256: kv["sha256"]})
	}
	return obs
}

func startWorld(t *testing.T) (*demo.World, *attrib.Attributor, *attrib.Policy) {
	t.Helper()
	w, err := demo.Start(demo.Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	cat, err := attrib.LoadCatalog(w.CatalogFile)
	if err != nil {
		t.Fatal(err)
	}
	geo, err := attrib.OpenGeo(w.GeoDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { geo.Close() })
	return w, &attrib.Attributor{Catalog: cat, Geo: geo}, &attrib.Policy{Home: "XA", Trusted: []string{"XB"}}
}

// The demo world's ground truth, recovered from what an agent observes:
// the provider of every layer of every service, 100%.
func TestDemoGroundTruth(t *testing.T) {
	w, a, pol := startWorld(t)
	right, total := 0, 0
	var services []*Service
	for _, s := range w.Services {
		svc := Build(s.ID, s.Sector, observe(t, w, s), a, pol)
		services = append(services, svc)
		for layer, want := range s.Truth() {
			total++
			l := svc.Layer(layer)
			if l != nil && len(l.Providers) == 1 && l.Providers[0] == want {
				right++
				continue
			}
			got := "none"
			if l != nil {
				got = fmt.Sprint(l.Providers, " ", l.Evidence)
			}
			t.Errorf("%s %s: got %s, want %s", s.ID, layer, got, want)
		}
	}
	t.Logf("demo ground truth: %d/%d layers attributed right (%.1f%%)", right, total, 100*float64(right)/float64(total))

	byID := map[string]*Service{}
	for _, s := range services {
		byID[s.Target] = s
	}
	for _, c := range []struct{ target, layer, state string }{
		{"gas-transport", "dns", ForeignCritical},
		{"gas-transport", "hosting", ForeignCritical},
		{"gas-transport", "cdn", ForeignCritical},
		{"grid-market", "hosting", Domestic}, // Borealis: a trusted partner
		{"grid-portal", "dns", Domestic},
		{"energy-regulator", "ca", ForeignCritical},
	} {
		if l := byID[c.target].Layer(c.layer); l == nil || l.State != c.state {
			t.Errorf("%s %s: %+v, want %s", c.target, c.layer, l, c.state)
		}
	}
	if s := byID["grid-portal"]; s.Score != 0 {
		t.Errorf("grid-portal score %v, want 0", s.Score)
	}
	if s := byID["elections"]; s.Score < 0.9 || s.WorstState != ForeignCritical {
		t.Errorf("elections score %v worst %s", s.Score, s.WorstState)
	}
	if ev := byID["gas-transport"].Layer("dns").Evidence; ev != "dns: 2/2 name servers foreign: Cathay DNS (XC)" {
		t.Errorf("evidence %q", ev)
	}

	// What if Cathay (XC) cuts everything off?
	wi := Evaluate(services, Cut{Countries: []string{"XC"}}, nil)
	lost := map[string]bool{}
	for _, im := range wi.Services {
		if im.Outcome == Lost {
			lost[im.Target] = true
		}
	}
	for _, s := range w.Services {
		want := s.DNS == "cathaydns" || s.CDN == "skyline" || s.Hosting == "skyline"
		if lost[s.ID] != want {
			t.Errorf("what-if XC: %s lost=%v, want %v", s.ID, lost[s.ID], want)
		}
	}
	if wi.Totals[Lost] == 0 || wi.Totals[Untouched] == 0 {
		t.Errorf("totals %v", wi.Totals)
	}
	byProv := Evaluate(services, Cut{Providers: []string{"dravia"}}, nil)
	if byProv.Totals[Lost] == 0 || byProv.Totals[Degraded] == 0 {
		t.Errorf("what-if dravia: %v", byProv.Totals)
	}
	cidr := Evaluate(services, Cut{CIDRs: []netip.Prefix{netip.MustParsePrefix("127.20.0.0/16")}}, nil)
	if cidr.Totals[Lost] == 0 {
		t.Errorf("what-if 127.20.0.0/16 (Skyline's range): %v", cidr.Totals)
	}
}

// The demo's DNS move abroad is drift within one observation cycle.
func TestDemoDrift(t *testing.T) {
	w, a, pol := startWorld(t)
	var s *demo.Service
	for _, x := range w.Services {
		if x.Has(demo.Drift) {
			s = x
		}
	}
	tr := NewTracker(100)
	t0 := time.Now()
	if d := tr.Observe([]*Service{Build(s.ID, s.Sector, observe(t, w, s), a, pol)}, t0); len(d) != 0 {
		t.Fatalf("first observation reported drift: %+v", d)
	}
	w.DriftNow()
	d := tr.Observe([]*Service{Build(s.ID, s.Sector, observe(t, w, s), a, pol)}, t0.Add(time.Minute))
	if len(d) != 1 || d[0].Layer != "dns" || d[0].Before != "arcanet@XA" || d[0].After != "cathaydns@XC" ||
		d[0].FromState != Domestic || d[0].ToState != ForeignCritical {
		t.Fatalf("drift %+v", d)
	}
	if ev := tr.Events(s.ID); len(ev) != 1 {
		t.Fatalf("events %+v", ev)
	}
}

func BenchmarkWhatIf10k(b *testing.B) {
	var services []*Service
	provs := []string{"amazon", "cloudflare", "akamai", "arcanet", "dravia"}
	countries := []string{"US", "US", "US", "XA", "XD"}
	for i := range 10000 {
		s := &Service{Target: fmt.Sprintf("svc-%05d", i), Sector: []string{"energy", "finance", "government"}[i%3]}
		for li, ln := range []string{"hosting", "dns", "ca", "mail"} {
			l := &Layer{Name: ln}
			for k := range 2 {
				p := (i + li + k) % len(provs)
				l.Items = append(l.Items, Item{Name: fmt.Sprint(k), Addrs: []string{fmt.Sprintf("10.%d.%d.1", p, k)},
					Attr: attrib.Attribution{Provider: provs[p], Jurisdiction: countries[p], ASN: uint32(64500 + p)}})
			}
			s.Layers = append(s.Layers, l)
		}
		services = append(services, s)
	}
	cut := Cut{Countries: []string{"US"}, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.4.0.0/16")}}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(services, cut, nil)
	}
}

// BenchmarkAttribute100k attributes 100,000 observations (10,000 services
// of 10 each: addresses, CNAMEs, name servers, mail hosts, CAs,
// subresources) into graphs, with the demo's geo databases and catalog.
func BenchmarkAttribute100k(b *testing.B) {
	w, err := demo.Start(demo.Options{Dir: b.TempDir(), DriftAfter: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	cat, _ := attrib.LoadCatalog(w.CatalogFile)
	geo, err := attrib.OpenGeo(w.GeoDir)
	if err != nil {
		b.Fatal(err)
	}
	defer geo.Close()
	a := &attrib.Attributor{Catalog: cat, Geo: geo}
	pol := &attrib.Policy{Home: "XA", Trusted: []string{"XB"}}
	nets := []string{"127.1", "127.2", "127.10", "127.20", "127.21", "127.30"}
	obs := make([][]Observation, 10000)
	for i := range obs {
		n := nets[i%len(nets)]
		obs[i] = []Observation{
			{Layer: "hosting", Kind: "cname", Name: fmt.Sprintf("s%d.edge.skylinecdn.test", i)},
			{Layer: "hosting", Kind: "a", Name: "x", Addr: fmt.Sprintf("%s.0.%d", n, i%250+1)},
			{Layer: "hosting", Kind: "a", Name: "x", Addr: fmt.Sprintf("%s.1.%d", n, i%250+1)},
			{Layer: "dns", Kind: "ns", Name: "ns1.cathaydns.test", Addr: "127.21.53.1"},
			{Layer: "dns", Kind: "ns", Name: "ns2.arcanet.test", Addr: "127.1.53.2"},
			{Layer: "mail", Kind: "mx", Name: "mx.draviacloud.test", Addr: "127.30.25.1"},
			{Layer: "ca", Kind: "issuer", Name: "ArcaTrust Root R1", Org: "ArcaTrust", Country: "XA"},
			{Layer: "ca", Kind: "ca", Name: "ArcaTrust Root R1", Org: "ArcaTrust", Country: "XA"},
			{Layer: "subresource", Kind: "script", Name: "static.skylinecdn.test"},
			{Layer: "subresource", Kind: "img", Name: fmt.Sprintf("img%d.unknown.test", i%100)},
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, o := range obs {
			Build(fmt.Sprint(i), "energy", o, a, pol)
		}
	}
	b.ReportMetric(float64(100000*b.N)/b.Elapsed().Seconds(), "observations/s")
}

// Observations are untrusted: an enormous chain is bounded, garbage gets
// a clear rule, and a DNS provider hosted on a cloud falls with the cloud.
func TestUntrustedObservations(t *testing.T) {
	_, a, pol := startWorld(t)
	var obs []Observation
	for i := range 5000 {
		obs = append(obs, Observation{Layer: "dns", Kind: "ns", Name: fmt.Sprintf("ns%d.cathaydns.test", i), Addr: "127.21.53.1"})
	}
	obs = append(obs, Observation{Layer: "hosting", Kind: "a", Addr: "not-an-address"},
		Observation{Layer: "mail", Kind: "mx", Name: "<script>", Addr: "300.1.1.1"})
	s := Build("x", "energy", obs, a, pol)
	if l := s.Layer("dns"); len(l.Items) != maxItems {
		t.Fatalf("dns layer holds %d items, bound %d", len(l.Items), maxItems)
	}
	if it := s.Layer("hosting").Items[0]; it.Attr.Rule != attrib.RuleInvalid || it.Foreign || !it.Unattributed || s.Layer("hosting").State != Unattributed {
		t.Errorf("bogus address: %+v", it)
	}
	if it := s.Layer("mail").Items[0]; it.Attr.Rule != attrib.RuleInvalid {
		t.Errorf("bogus name: %+v", it)
	}
	// Cathay DNS's name servers answering from Dravia Cloud's network.
	hosted := Build("y", "energy", []Observation{{Layer: "dns", Kind: "ns", Name: "ns1.cathaydns.test", Addr: "127.30.53.1"}}, a, pol)
	it := hosted.Layer("dns").Items[0]
	if it.Attr.Provider != "cathaydns" || it.HostedOn != "dravia" || it.HostedIn != "XD" {
		t.Fatalf("hosted on: %+v", it)
	}
	if w := Evaluate([]*Service{hosted}, Cut{Providers: []string{"dravia"}}, nil); w.Totals[Lost] != 1 {
		t.Errorf("cutting the cloud under a DNS provider: %+v", w.Totals)
	}
}

// Issue 10: what cannot be placed is unattributed, never foreign nor
// domestic: a layer of only unplaced items is "unattributed" and left out
// of the score; beside known items it is counted apart and shown.
func TestUnattributedIsItsOwnAnswer(t *testing.T) {
	known := func(p, j string, foreign bool) Item {
		return Item{Name: p, Attr: attrib.Attribution{Provider: p, Jurisdiction: j}, Foreign: foreign}
	}
	unknown := func(name string) Item { return Item{Name: name, Unattributed: true} }
	for _, tc := range []struct {
		items []Item
		state string
	}{
		{[]Item{unknown("ns1.example-a.us"), unknown("ns2.example-a.us")}, Unattributed},
		{[]Item{known("home-dns", "XA", false), unknown("ns.example-b.us")}, Domestic},
		{[]Item{known("cathaydns", "XC", true), unknown("ns.example-b.us")}, ForeignMulti},
		{[]Item{known("cathaydns", "XC", true), known("home-dns", "XA", false), unknown("ns.example-b.us")}, ForeignRedundant},
		{[]Item{known("cathaydns", "XC", true)}, ForeignCritical},
	} {
		l := &Layer{Name: "dns", Items: tc.items}
		l.decide()
		if l.State != tc.state {
			t.Errorf("%v: state %s, want %s", tc.items, l.State, tc.state)
		}
		if n := l.Unattributed; n > 0 && !strings.Contains(l.Evidence, "unattributed") {
			t.Errorf("evidence does not say %d unattributed: %s", n, l.Evidence)
		}
	}
	svc := &Service{Layers: []*Layer{{Name: "dns", State: Unattributed}, {Name: "hosting", State: Domestic}}}
	svc.score()
	if svc.Score != 0 || svc.WorstState != Domestic {
		t.Errorf("an unattributed layer counted: score %v, worst %s", svc.Score, svc.WorstState)
	}
}

// Issue 10: the summary beside the graphs counts, per layer, the services
// that depend only on foreign providers (by country and provider), those
// on one provider, and the unattributed with their largest providers.
func TestSummarize(t *testing.T) {
	layer := func(items ...Item) *Layer {
		l := &Layer{Name: "dns", Items: items}
		for _, it := range items {
			l.Providers = append(l.Providers, providerKey(it))
		}
		l.decide()
		return l
	}
	wix := Item{Name: "ns1.wixdns.net", Attr: attrib.Attribution{Provider: "wix", ProviderName: "Wix", Jurisdiction: "IL"}, Foreign: true}
	cf := Item{Name: "ns.cloudflare.com", Attr: attrib.Attribution{Provider: "cloudflare", Jurisdiction: "US"}}
	unk := Item{Name: "ns1.shumakergrouphosting.com", Attr: attrib.Attribution{Provider: "domain:shumakergrouphosting.com"}, Unattributed: true}
	services := []*Service{
		{Target: "a", Layers: []*Layer{layer(wix)}},
		{Target: "b", Layers: []*Layer{layer(wix, unk)}}, // not foreign-only: one name server unplaced
		{Target: "c", Layers: []*Layer{layer(cf)}},
		{Target: "d", Layers: []*Layer{layer(unk)}},
	}
	sums := Summarize(services)
	if len(sums) != 1 {
		t.Fatalf("summaries: %+v", sums)
	}
	s := sums[0]
	if s.ForeignOnly != 1 || s.ForeignOnlyByCountry[0] != (Count{Key: "IL", Count: 1}) || s.ForeignOnlyByProvider[0].Name != "Wix" ||
		s.Unattributed != 1 || s.PartlyUnattributed != 1 || s.UnattributedProviders[0] != (Count{Key: "domain:shumakergrouphosting.com", Count: 2}) ||
		s.SingleProvider != 3 || s.States[Unattributed] != 1 || s.Services != 4 {
		t.Errorf("summary: %+v", s)
	}
}

// Issue 10: a cut by country cannot clear a service whose critical layer
// it leaves only unattributed dependencies: "cannot tell", not untouched.
func TestWhatIfUnattributed(t *testing.T) {
	wix := Item{Name: "ns1.wixdns.net", Attr: attrib.Attribution{Provider: "wix", Jurisdiction: "IL"}, Foreign: true}
	unk := Item{Name: "ns1.uberns.com", Attr: attrib.Attribution{Provider: "domain:uberns.com"}, Unattributed: true}
	home := Item{Name: "ns1.city.gov", Attr: attrib.Attribution{Provider: "domain:city.gov", Jurisdiction: "US"}}
	services := []*Service{
		{Target: "half-known", Layers: []*Layer{{Name: "dns", Items: []Item{wix, unk}}}},
		{Target: "unknown-only", Layers: []*Layer{{Name: "dns", Items: []Item{unk}}}},
		{Target: "redundant", Layers: []*Layer{{Name: "dns", Items: []Item{wix, unk, home}}}},
	}
	w := Evaluate(services, Cut{Countries: []string{"IL"}}, nil)
	got := map[string]string{}
	for _, im := range w.Services {
		got[im.Target] = im.Outcome
	}
	want := map[string]string{"half-known": Unknown, "unknown-only": Unknown, "redundant": Degraded}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
	if w.Totals[Unknown] != 2 {
		t.Errorf("totals %v", w.Totals)
	}
}
