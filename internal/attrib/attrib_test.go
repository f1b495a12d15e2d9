package attrib

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

type fact struct{ kind, input, provider, jurisdiction string }

func facts(t *testing.T, kinds ...string) []fact {
	t.Helper()
	f, err := os.Open("testdata/labelled.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fact
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		for _, k := range kinds {
			if c[0] == k {
				out = append(out, fact{c[0], c[1], c[2], c[3]})
			}
		}
	}
	return out
}

// accuracy attributes each fact and reports the share right.
func accuracy(t *testing.T, a *Attributor, fs []fact) {
	t.Helper()
	right := 0
	for _, f := range fs {
		var got Attribution
		switch f.kind {
		case "ip":
			got = a.Addr(f.input)
		case "ca", "ca-root":
			got = a.CA("", f.input, "")
		default:
			got = a.Name(f.kind, f.input)
		}
		if got.Provider == f.provider && got.Jurisdiction == f.jurisdiction {
			right++
		} else {
			t.Errorf("%s %s: got %s/%s (%s), want %s/%s", f.kind, f.input, got.Provider, got.Jurisdiction, got.Evidence, f.provider, f.jurisdiction)
		}
	}
	t.Logf("accuracy on %d labelled public facts: %d right (%.1f%%)", len(fs), right, 100*float64(right)/float64(len(fs)))
}

func TestLabelledNamesAndCAs(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	accuracy(t, &Attributor{Catalog: cat}, facts(t, "ns", "cname", "mx", "ca"))
}

// Real addresses against their real AS numbers, through databases built
// from Debian's libloc-database (installed by .ci/install-deps).
func TestLabelledAddressesLibloc(t *testing.T) {
	bin := testbin.Need(t, "location", "location libloc-database")
	dir := t.TempDir()
	cmd := exec.Command(bin, "dump")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := ImportLibloc(out, dir)
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("location dump: %v", werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Networks < 100000 || st.ASNames < 10000 {
		t.Fatalf("imported only %d networks and %d AS names", st.Networks, st.ASNames)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ATTRIBUTION")); !strings.Contains(string(b), "CC BY-SA 4.0") {
		t.Errorf("no licence attribution written: %s", b)
	}
	cat, _ := LoadCatalog()
	geo, err := OpenGeo(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	accuracy(t, &Attributor{Catalog: cat, Geo: geo}, facts(t, "ip"))
	// An AS outside the catalog: the country most of its networks are in.
	if got := (&Attributor{Catalog: cat, Geo: geo}).Addr("208.67.222.222"); got.Rule != RuleASCountry || got.ASN != 36692 || got.Jurisdiction != "US" {
		t.Errorf("OpenDNS (AS36692, not catalogued): %+v", got)
	}
	for addr, asn := range map[string]uint32{"8.8.8.8": 15169, "1.1.1.1": 13335, "9.9.9.9": 19281} {
		if got := (&Attributor{Catalog: cat, Geo: geo}).Addr(addr); got.ASN != asn {
			t.Errorf("%s: AS%d, want AS%d", addr, got.ASN, asn)
		}
	}
}

func TestInvalidCatalogs(t *testing.T) {
	cases := map[string]string{
		"invalid-catalog-country.yaml":     `testdata/invalid-catalog-country.yaml:4: providers[0].country: country "Cathay" is not a two-letter ISO 3166 code of the parent company`,
		"invalid-catalog-pattern.yaml":     `testdata/invalid-catalog-pattern.yaml:5: providers[0].cname_suffixes: name pattern ".skylinecdn.test" must be labels separated by dots`,
		"invalid-catalog-unknown-key.yaml": `testdata/invalid-catalog-unknown-key.yaml:5: unknown key "cdn_suffixes"`,
		"invalid-catalog-duplicate.yaml":   `testdata/invalid-catalog-duplicate.yaml:5: providers[1].id: duplicate provider id "skyline" (first at providers[0])`,
		"invalid-catalog-kind.yaml":        `testdata/invalid-catalog-kind.yaml:5: providers[0].kinds: unknown kind "satellite" (known: hosting, cdn, dns, mail, ca, subresource)`,
	}
	for name, want := range cases {
		_, err := LoadCatalog(filepath.Join("testdata", name))
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", name, err, want)
		}
	}
}

func TestGeoErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenGeo(dir); err == nil || !strings.Contains(err.Error(), "no country database") {
		t.Errorf("missing databases: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "country.mmdb"), []byte("not a database"), 0o644)
	if _, err := OpenGeo(dir); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Errorf("corrupt database: %v", err)
	}
}

// Observations are untrusted: bogus addresses and names get a clear rule.
func TestUntrustedInput(t *testing.T) {
	cat, _ := LoadCatalog()
	a := &Attributor{Catalog: cat}
	for _, c := range []struct {
		got  Attribution
		rule string
	}{
		{a.Addr("999.1.1.1"), RuleInvalid},
		{a.Addr(strings.Repeat("1", 5000)), RuleInvalid},
		{a.Name("ns", "not a name!"), RuleInvalid},
		{a.Name("ns", strings.Repeat("a.", 200)+"com"), RuleInvalid},
		{a.Name("ns", "ns1.nowhere.invalid"), RuleUnknown},
		{a.CA("", "Unknown CA Ltd", ""), RuleUnknown},
		{a.CA("", "Unknown CA Ltd", "de"), RuleCertCountry},
	} {
		if c.got.Rule != c.rule || len(c.got.Evidence) > 300 {
			t.Errorf("%+v, want rule %s", c.got, c.rule)
		}
	}
	if _, err := OpenGeo("/nonexistent"); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenGeo of a missing dir: %v", err)
	}
}

func TestPolicy(t *testing.T) {
	p := &Policy{Home: "XA", Trusted: []string{"XB"}, Sectors: map[string]PolicyOverride{"finance": {Trusted: nil}},
		Targets: map[string]PolicyOverride{"embassy": {Home: "XC"}}}
	for _, c := range []struct {
		j, sector, target string
		foreign           bool
	}{
		{"XA", "energy", "x", false}, {"XB", "energy", "x", false}, {"XC", "energy", "x", true},
		{"XB", "finance", "x", true}, {"XC", "energy", "embassy", false},
		// Issue 10: an unknown jurisdiction is unattributed, not foreign.
		{"", "energy", "x", false},
	} {
		if got := p.Foreign(c.j, c.sector, c.target); got != c.foreign {
			t.Errorf("Foreign(%q, %s, %s) = %v", c.j, c.sector, c.target, got)
		}
	}
}

func FuzzParseCatalog(f *testing.F) {
	files, _ := fs.Glob(shipped, "catalog/*.yaml")
	for _, name := range files {
		b, _ := fs.ReadFile(shipped, name)
		f.Add(b)
	}
	f.Add([]byte("providers:\n  - {id: x, name: X, country: ZZ, kinds: [dns], ns_suffixes: ['*.']}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if cf, err := parseCatalog("fuzz.yaml", b); err == nil {
			newCatalog([]*catalogFile{cf}) // an accepted file must build
		}
	})
}

// FuzzImportLibloc feeds `location dump` text: whatever it is, the import
// answers an error or writes databases that open.
func FuzzImportLibloc(f *testing.F) {
	f.Add([]byte("# IPFire location database\naut-num: AS64500\nname: Example Net\n\nnet: 192.0.2.0/24\ncountry: XA\naut-num: AS64500\n\n"))
	f.Add([]byte("net: 2001:db8::/32\ncountry: DE\n\nnet: not-a-net\n"))
	f.Add([]byte("aut-num: ASx\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if _, err := ImportLibloc(bytes.NewReader(b), dir); err != nil {
			return
		}
		g, err := OpenGeo(dir)
		if err != nil {
			t.Fatalf("imported databases do not open: %v", err)
		}
		g.Close()
	})
}

// Issue 10: IP data older than a year is called stale, by the date of the
// data (the dump's "Generated:" line), not of the import; fresh data is not.
func TestGeoDataFreshness(t *testing.T) {
	for generated, stale := range map[string]bool{"Sat, 29 Oct 2022 05:59:54 GMT": true, "Mon, 02 Nov 2026 06:00:00 GMT": false} {
		dir := t.TempDir()
		dump := "#\n# Location Database Export\n#\n# Generated: " + generated + "\n# Vendor:    IPFire Project\n#\n" +
			"aut-num: AS64500\nname: Example Net\n\nnet: 192.0.2.0/24\ncountry: XA\naut-num: AS64500\n\n"
		st, err := ImportLibloc(strings.NewReader(dump), dir)
		if err != nil {
			t.Fatal(err)
		}
		g, err := OpenGeo(dir)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		msg := g.Staleness(now)
		if !g.DataDate().Equal(st.Generated) || (msg != "") != stale {
			t.Errorf("generated %s: data date %v, staleness %q", generated, g.DataDate(), msg)
		}
		if stale && !strings.Contains(msg, "2022-10-29, 49 months old") || stale && !strings.Contains(msg, "MaxMind-format") {
			t.Errorf("the warning does not say how old or what to do: %s", msg)
		}
		g.Close()
	}
}
