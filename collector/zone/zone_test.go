package zone

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/attrib"
)

// rawCounts counts the real file independently: plain string splitting
// of its lines, no DNS library.
func rawCounts(t *testing.T) (domains map[string]bool, ns, ds int, nsTargets map[string]int) {
	t.Helper()
	f, err := os.Open("testdata/gov.zone")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	domains, nsTargets = map[string]bool{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 || strings.HasPrefix(fs[0], ";") {
			continue
		}
		switch fs[3] {
		case "NS":
			ns++
			if fs[0] != "gov." {
				domains[strings.ToLower(fs[0])] = true
				nsTargets[strings.ToLower(fs[4])]++
			}
		case "DS":
			ds++
		}
	}
	return domains, ns, ds, nsTargets
}

func TestParseDotgov(t *testing.T) {
	s, err := ParseFile("testdata/gov.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	domains, ns, ds, _ := rawCounts(t)
	if s.Origin != "gov." || len(s.Delegations) != len(domains) || s.NSRecords != ns || s.DSRecords != ds {
		t.Fatalf("origin %s, %d delegations (raw %d), %d NS (raw %d), %d DS (raw %d)",
			s.Origin, len(s.Delegations), len(domains), s.NSRecords, ns, s.DSRecords, ds)
	}
	if s.Exported.Format("2006-01-02 15:04:05") != "2026-08-22 07:39:20" {
		t.Errorf("exported %v", s.Exported)
	}
	withDS := 0
	for _, d := range s.Delegations {
		if d.DS {
			withDS++
		}
	}
	t.Logf("%d delegations, %d NS records, %d DS records, %d signed domains", len(s.Delegations), s.NSRecords, s.DSRecords, withDS)
}

// Per-provider figures of the largest providers agree with a count made
// from the raw records by plain string matching of name server names.
func TestReportDotgovProviders(t *testing.T) {
	s, err := ParseFile("testdata/gov.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := attrib.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	an := Analyze(s, &attrib.Attributor{Catalog: cat}, &attrib.Policy{Home: "US"}, nil)
	r := an.Report(true)
	// Independent count: domains per provider and domains using it alone.
	f, _ := os.Open("testdata/gov.zone")
	defer f.Close()
	nsOf := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 5 && fs[3] == "NS" && fs[0] != "gov." {
			nsOf[strings.ToLower(fs[0])] = append(nsOf[strings.ToLower(fs[0])], strings.ToLower(fs[4]))
		}
	}
	// The providers' published name server suffixes, matched as plain strings.
	marks := map[string][]string{
		"amazon":     {".com.", ".net.", ".org.", ".co.uk.", ".us."}, // and the label awsdns-NN, checked below
		"cloudflare": {".cloudflare.com.", ".foundationdns.com.", ".foundationdns.net.", ".foundationdns.org.", ".cloudflare-gateway.com."},
		"microsoft":  {".azure-dns.com.", ".azure-dns.net.", ".azure-dns.org.", ".azure-dns.info.", ".azuregov-dns.us.", ".microsoftonline.com.", ".outlook.com."},
		// Issue 10: the long tail abroad, each under all its aliases.
		"wix":              {".wixdns.net."},
		"cloudns":          {".cloudns.net.", ".cloudns.com.", ".cloudns.uk.", ".cloudns.info.", ".cloudns.org.", ".cloudns.biz."},
		"easydns":          {".easydns.com.", ".easydns.net.", ".easydns.org.", ".easydns.ca.", ".easydns.info."},
		"siteground":       {".siteground.net.", ".siteground.biz.", ".sgvps.net."},
		"tucows":           {".name-services.com."},
		"ionos":            {".ui-dns.com.", ".ui-dns.org.", ".ui-dns.biz.", ".ui-dns.de.", ".1and1.com.", ".1and1-dns.com.", ".1and1-dns.de.", ".1and1-dns.org."},
		"godaddy":          {".domaincontrol.com.", ".secureserver.net.", ".mediatemple.net.", ".godaddy.com."},
		"hostinger":        {".dns-parking.com."},
		"hostpapa":         {".hostpapa.com."},
		"imperva":          {".impervasecuredns.net."},
		"sherweb":          {".sherweb.com.", ".sherweb2010.com."},
		"onenineeightfour": {".1984.is.", ".1984hosting.com."},
		"bunny":            {".bunny.net."},
		"akamai":           {".akam.net.", ".akamaiedge.net.", ".linode.com."},
		"ultradns":         {".ultradns.net.", ".ultradns.com.", ".ultradns.org.", ".ultradns.biz.", ".ultradns.info.", ".ultradns.co.uk."},
	}
	is := func(prov, ns string) bool {
		if prov == "amazon" && !strings.Contains(ns, ".awsdns-") {
			return false
		}
		for _, m := range marks[prov] {
			if strings.HasSuffix(ns, m) {
				return true
			}
		}
		return false
	}
	for prov := range marks {
		uses, alone := 0, 0
		for _, nss := range nsOf {
			n := 0
			for _, ns := range nss {
				if is(prov, ns) {
					n++
				}
			}
			if n > 0 {
				uses++
			}
			if n == len(nss) {
				alone++
			}
		}
		var row ProviderRow
		for _, p := range r.Providers {
			if p.Provider == prov {
				row = p
			}
		}
		if row.Domains != uses || row.Critical != alone {
			t.Errorf("%s: report %d domains (%d alone), raw count %d (%d alone)", prov, row.Domains, row.Critical, uses, alone)
		}
		t.Logf("%-10s %5d domains, %5d depending on it alone", prov, uses, alone)
	}
	if len(r.DomainRows) != len(nsOf) || r.Domains != len(nsOf) {
		t.Fatalf("%d domain rows for %d domains", len(r.DomainRows), len(nsOf))
	}
	// Foreign only, counted from the raw records: every name server of the
	// domain under the suffixes of providers seated abroad.
	abroad := map[string]string{"wix": "IL", "cloudns": "BG", "easydns": "CA", "siteground": "BG", "tucows": "CA", "ionos": "DE",
		"hostinger": "CY", "hostpapa": "CA", "imperva": "FR", "sherweb": "CA", "onenineeightfour": "IS", "bunny": "SI"}
	foreignOnly, byCountry := 0, map[string]int{}
	for _, nss := range nsOf {
		countries := map[string]bool{}
		all := true
		for _, ns := range nss {
			placed := false
			for prov, cc := range abroad {
				if is(prov, ns) {
					countries[cc], placed = true, true
				}
			}
			all = all && placed
		}
		if all {
			foreignOnly++
			for cc := range countries {
				byCountry[cc]++
			}
		}
	}
	h := r.Headline
	if h.ForeignOnly != foreignOnly || h.ForeignOnly != len(r.ForeignOnly) {
		t.Errorf("foreign only: report %d (%d listed), raw count %d", h.ForeignOnly, len(r.ForeignOnly), foreignOnly)
	}
	for _, c := range h.ForeignOnlyByCountry {
		if c.Count != byCountry[c.Key] {
			t.Errorf("foreign only in %s: report %d, raw count %d", c.Key, c.Count, byCountry[c.Key])
		}
	}
	t.Logf("foreign only: %d domains, by country %v", foreignOnly, byCountry)
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf, "providers"); err != nil || !strings.HasPrefix(buf.String(), "provider,name,jurisdiction") {
		t.Fatalf("csv: %v %.100s", err, buf.String())
	}
}

// With the .gov list's types, DNSSEC coverage by type matches a count
// from the raw DS records.
func TestReportTypesAndDNSSEC(t *testing.T) {
	s, _ := ParseFile("testdata/gov.zone", "")
	cat, _ := attrib.LoadCatalog()
	types := map[string]string{}
	b, _ := os.ReadFile("../inventory/testdata/current-full.csv")
	rows, _ := csv.NewReader(bytes.NewReader(b)).ReadAll()
	for _, row := range rows[1:] {
		types[strings.ToLower(row[0])] = row[1]
	}
	r := Analyze(s, &attrib.Attributor{Catalog: cat}, &attrib.Policy{Home: "US"}, types).Report(false)
	signed := map[string]bool{}
	f, _ := os.Open("testdata/gov.zone")
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 4 && fs[3] == "DS" {
			signed[strings.TrimSuffix(strings.ToLower(fs[0]), ".")] = true
		}
	}
	want := map[string]int{}
	for d := range signed {
		want[cmp.Or(types[d], "unknown")]++
	}
	for _, tr := range r.Types {
		if tr.Signed != want[tr.Type] {
			t.Errorf("type %s: %d signed, raw count %d", tr.Type, tr.Signed, want[tr.Type])
		}
		if tr.HHI <= 0 || tr.HHI > 10000 {
			t.Errorf("type %s: HHI %v", tr.Type, tr.HHI)
		}
	}
	var txt bytes.Buffer
	r.WriteText(&txt, 10)
	t.Logf("\n%s", txt.String())
}

// A malformed line is refused with file and line; nothing is recorded.
func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"$ORIGIN gov.\n@ 3600 IN SOA a.ns.gov. dns.example. 1 3600 900 604800 300\nexample 3600 IN NS ns1.example.net.\nbroken 3600 IN A not-an-address\n": "zone.txt:4: ",
		"example.gov. 3600 IN NS ns1.example.net.\n":                                                               "zone.txt:1: no SOA record and no origin given",
		"$ORIGIN gov.\n@ 3600 IN SOA a.ns.gov. dns.example. 1 3600 900 604800 300\n":                               "zone.txt:1: no delegations",
		"$ORIGIN gov.\n@ 3600 IN SOA a.ns.gov. dns.example. 1 3600 900 604800 300\nexample 3600 IN AAAA 1.2.3.4\n": "zone.txt:3: ",
	}
	for text, want := range cases {
		_, err := Parse(strings.NewReader(text), "zone.txt", "")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant prefix %q", text, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("$ORIGIN gov.\n@ 3600 IN SOA a.ns.gov. dns.example. 1 3600 900 604800 300\nexample 3600 IN NS ns1.example.net.\nexample 3600 IN DS 1 13 2 AABB\n")
	f.Add("x 1 IN NS y.\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(strings.NewReader(text), "fuzz.zone", "")
		if err == nil {
			for _, d := range s.Delegations {
				if len(d.NS) == 0 || len(d.NS) > maxNSPerDomain {
					t.Fatalf("delegation %+v", d)
				}
			}
		}
	})
}

// Issue 8: ?origin=../../../../tmp/x read *.json outside the data directory.
// Whatever the origin, the directory it names is inside the store.
func FuzzZoneDir(f *testing.F) {
	for _, o := range []string{"gov.", "../../../../tmp/x", "..", "a/../../b", ".", "", "xn--80ak6aa92e.", "a\x00b"} {
		f.Add(o)
	}
	root := filepath.Join(f.TempDir(), "zone")
	s := NewStore(root)
	f.Fuzz(func(t *testing.T, origin string) {
		dir, err := s.zoneDir(origin)
		if err != nil {
			if !errors.Is(err, ErrBadOrigin) {
				t.Fatalf("%q: %v", origin, err)
			}
			return
		}
		if rel, err := filepath.Rel(root, dir); err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.Contains(rel, string(filepath.Separator)) {
			t.Fatalf("origin %q names %s, outside the store", origin, dir)
		}
	})
}

func TestReportOriginConfined(t *testing.T) {
	s := NewStore(t.TempDir())
	if _, _, err := s.Latest("../../../../tmp/x"); !errors.Is(err, ErrBadOrigin) {
		t.Fatalf("Latest(../../../../tmp/x) = %v, want ErrBadOrigin", err)
	}
}
