package demo

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/oschwald/maxminddb-golang/v2"
)

func query(t *testing.T, server, name string, typ uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), typ)
	r, _, err := new(dns.Client).Exchange(m, server)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The world's ground truth: addresses geolocate to their provider's
// country and AS, CDN-fronted services answer with a CNAME chain, and the
// drifting service's name servers move abroad.
func TestWorld(t *testing.T) {
	w, err := Start(Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if len(w.Services) < 24 {
		t.Fatalf("%d services, want at least 24", len(w.Services))
	}
	sectors := map[string]int{}
	traits := map[Trait]int{}
	for _, s := range w.Services {
		sectors[s.Sector]++
		for _, tr := range s.Traits {
			traits[tr]++
		}
	}
	if len(sectors) < 3 {
		t.Errorf("sectors %v", sectors)
	}
	for _, tr := range []Trait{Flapping, Slow, Expiring, HomeOnly, Drift} {
		if traits[tr] == 0 {
			t.Errorf("no service with trait %s", tr)
		}
	}

	country, err := maxminddb.Open(w.CountryDB)
	if err != nil {
		t.Fatal(err)
	}
	defer country.Close()
	asn, err := maxminddb.Open(w.ASNDB)
	if err != nil {
		t.Fatal(err)
	}
	defer asn.Close()
	for _, s := range w.Services {
		edge := s.Hosting
		if s.CDN != "" {
			edge = s.CDN
		}
		p, _ := ProviderByID(edge)
		var c struct {
			Country struct {
				ISOCode string `maxminddb:"iso_code"`
			} `maxminddb:"country"`
		}
		var a struct {
			ASN uint32 `maxminddb:"autonomous_system_number"`
		}
		if err := country.Lookup(s.Addr.Addr()).Decode(&c); err != nil {
			t.Fatal(err)
		}
		if err := asn.Lookup(s.Addr.Addr()).Decode(&a); err != nil {
			t.Fatal(err)
		}
		if c.Country.ISOCode != p.Country || a.ASN != p.ASN {
			t.Errorf("%s at %s: country %q AS%d, want %q AS%d", s.ID, s.Addr.Addr(), c.Country.ISOCode, a.ASN, p.Country, p.ASN)
		}
		r := query(t, w.DNS.Addr, s.Host, dns.TypeA)
		if len(r.Answer) == 0 {
			t.Fatalf("%s: no answer", s.Host)
		}
		last, ok := r.Answer[len(r.Answer)-1].(*dns.A)
		if !ok || netip.MustParseAddr(last.A.String()) != s.Addr.Addr() {
			t.Errorf("%s resolves to %v, want %s", s.Host, r.Answer, s.Addr.Addr())
		}
		if _, isCNAME := r.Answer[0].(*dns.CNAME); isCNAME != (s.CDN != "") {
			t.Errorf("%s: CNAME chain %v, CDN %q", s.Host, r.Answer, s.CDN)
		}
	}
	if r := query(t, w.DNS.Addr, "nope."+Zone, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("unknown name: rcode %d", r.Rcode)
	}

	var drifting *Service
	for _, s := range w.Services {
		if s.Has(Drift) {
			drifting = s
		}
	}
	ns := func() string {
		r := query(t, w.DNS.Addr, drifting.Host, dns.TypeNS)
		return r.Answer[0].(*dns.NS).Ns
	}
	if got := ns(); got != "ns1.arcanet.test." {
		t.Fatalf("before drift NS = %s", got)
	}
	w.DriftNow()
	<-w.Drifted()
	if got := ns(); got != "ns1.cathaydns.test." {
		t.Fatalf("after drift NS = %s", got)
	}
}

// The flapping service is up for FlapPeriod, then down for as long: the
// demo's 20 s by default, shorter when the demo runs faster.
func TestFlapPeriod(t *testing.T) {
	def, err := Start(Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	def.Close()
	for _, ts := range []time.Time{time.Unix(0, 0), time.Unix(19, 999e6), time.Unix(20, 0), time.Unix(1_800_000_059, 0), time.Unix(1_800_000_060, 0)} {
		if got, want := def.flapped(ts), ts.Unix()/20%2 == 1; got != want {
			t.Errorf("default period at %d: down %v, want %v", ts.Unix(), got, want)
		}
	}

	w, err := Start(Options{Dir: t.TempDir(), DriftAfter: -1, FlapPeriod: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var flapping *Service
	for _, s := range w.Services {
		if s.Has(Flapping) {
			flapping = s
		}
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.Roots, ServerName: flapping.Host},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, flapping.Addr.String())
		}}}
	seen := map[int]bool{}
	for deadline := time.Now().Add(10 * time.Second); !(seen[200] && seen[503]); {
		if time.Now().After(deadline) {
			t.Fatalf("in 10 s with a 100 ms period the flapping service answered only %v", seen)
		}
		resp, err := client.Get(flapping.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.StatusCode] = true
		time.Sleep(30 * time.Millisecond)
	}
}

// With Begin, the drift's clock starts when Begin closes, not at Start.
func TestBegin(t *testing.T) {
	begin := make(chan struct{})
	w, err := Start(Options{Dir: t.TempDir(), DriftAfter: time.Millisecond, Begin: begin})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	select {
	case <-w.Drifted():
		t.Fatal("drifted before Begin closed")
	case <-time.After(200 * time.Millisecond):
	}
	close(begin)
	select {
	case <-w.Drifted():
	case <-time.After(10 * time.Second):
		t.Fatal("no drift within 10 s of Begin")
	}
}
