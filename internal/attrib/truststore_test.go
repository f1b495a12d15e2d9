package attrib

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/demo"
)

// debianRoots loads Debian's ca-certificates bundle (the Mozilla root
// store); under CI its absence fails the test.
func debianRoots(t *testing.T) *TrustStore {
	t.Helper()
	if _, err := os.Stat(DefaultTrustStore); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (apt-get install ca-certificates)", DefaultTrustStore, err)
		}
		t.Skipf("%s: %v", DefaultTrustStore, err)
	}
	ts, err := LoadTrustStore(DefaultTrustStore)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// Issue 10: every CA organisation of the machine's trusted roots is
// attributed, to its parent company where the catalog knows better, else
// to the country its root states; none is left unknown.
func TestEveryTrustedRootOrganisation(t *testing.T) {
	ts := debianRoots(t)
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	a := &Attributor{Catalog: cat, Roots: ts}
	orgs := ts.Organizations()
	if ts.Len() < 100 || len(orgs) < 50 {
		t.Fatalf("%d roots, %d organisations in %s", ts.Len(), len(orgs), DefaultTrustStore)
	}
	byRule := map[string]int{}
	for _, org := range orgs {
		got := a.CA("", org, "")
		byRule[got.Rule]++
		if got.Rule == RuleUnknown || len(got.Jurisdiction) != 2 {
			t.Errorf("%q: %+v", org, got)
		}
	}
	t.Logf("%d roots, %d organisations: %v", ts.Len(), len(orgs), byRule)
	// A root the catalog knows by its parent company: ISRG is Let's Encrypt's.
	if r, ok := ts.ByOrganization("Internet Security Research Group"); !ok || r.Country != "US" {
		t.Errorf("ISRG root: %+v %v", r, ok)
	}
}

// Issue 10: the labelled CA organisations of the root store, attributed
// through the trusted roots alone.
func TestLabelledTrustedRoots(t *testing.T) {
	cat, _ := LoadCatalog()
	accuracy(t, &Attributor{Catalog: cat, Roots: debianRoots(t)}, facts(t, "ca-root"))
}

// An issuing CA whose organisation no root names is attributed through the
// root its chain leads to (by key identifier); a directory of PEM files
// loads like a bundle; text with no certificate is an error.
func TestTrustStoreChainsAndFiles(t *testing.T) {
	root, err := demo.NewCA("Arcadia Root CA 2026", "Arcadia Trust Services", "XA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "arcadia.pem"), root.PEM(), 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a certificate"), 0o644)
	ts, err := LoadTrustStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ := LoadCatalog()
	a := &Attributor{Catalog: cat, Roots: ts}
	got := a.CACert(CACert{Org: "Arcadia Issuing CA Ltd", AnchorKeyID: hex.EncodeToString(root.Cert.SubjectKeyId)})
	if got.Rule != RuleTrustStore || got.Jurisdiction != "XA" || !strings.Contains(got.Evidence, "chains to the trusted root") {
		t.Errorf("through the anchor: %+v", got)
	}
	if got := a.CA("", "arcadia trust services", ""); got.Jurisdiction != "XA" {
		t.Errorf("by organisation: %+v", got)
	}
	if got := a.CA("", "Nowhere CA", ""); got.Rule != RuleUnknown {
		t.Errorf("an unknown CA: %+v", got)
	}
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
	if ts, err := LoadTrustStore(dir); err != nil || ts.Skipped != 1 || ts.Len() != 1 {
		t.Errorf("a broken certificate among good ones: %v, skipped %d", err, ts.Skipped)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("nothing here\n"), 0o644)
	if _, err := LoadTrustStore(empty); err == nil || !strings.Contains(err.Error(), "no certificate in it") {
		t.Errorf("an empty store: %v", err)
	}
}

// FuzzParseTrustStore: whatever the PEM text, parsing answers without
// panicking, within its bounds.
func FuzzParseTrustStore(f *testing.F) {
	if b, err := os.ReadFile(DefaultTrustStore); err == nil && len(b) > 4000 {
		f.Add(b[:4000])
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := ParseTrustStore(b)
		if err != nil {
			return
		}
		for _, o := range ts.Organizations() {
			if _, ok := ts.ByOrganization(o); !ok {
				t.Fatalf("organisation %q listed but not found", o)
			}
		}
	})
}

// Issue 10: a name server under a registry whose registrants are bound to
// one jurisdiction (.gov, state.XX.us, .edu, .us) is run by its registrant, in that
// jurisdiction; a provider entry still wins, and so does an address an AS
// places; the suffix alone is not a host under it.
func TestRegistries(t *testing.T) {
	cat, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	a := &Attributor{Catalog: cat}
	for name, want := range map[string]string{
		"ns1.gsa.gov":            "domain:gsa.gov/US/registry",
		"dns1.state.mn.us":       "domain:state.mn.us/US/registry",
		"ns.army.mil":            "domain:army.mil/US/registry",
		"ns3-33.azuregov-dns.us": "microsoft/US/catalog-name",
		"ns1.example.us":         "domain:example.us/US/registry",
		"ns2.cc.example.edu":     "domain:example.edu/US/registry",
		"ns1.example.org":        "//unknown",
		"gov":                    "//unknown",
	} {
		got := a.Name("ns", name)
		if s := got.Provider + "/" + got.Jurisdiction + "/" + got.Rule; s != want {
			t.Errorf("%s: %s (%s), want %s", name, s, got.Evidence, want)
		}
	}
	if _, err := parseCatalog("x.yaml", []byte("registries:\n  - {suffixes: [gov], country: USA, source: x}\n")); err == nil ||
		err.Error() != `x.yaml:2: registries[0].country: country "USA" is not a two-letter ISO 3166 code` {
		t.Errorf("a registry with a bad country: %v", err)
	}
}

// A bundle of nothing but BEGIN lines (which encoding/pem rescans from
// each one) is read in one pass, and yields nothing.
func TestTrustStoreManyBegins(t *testing.T) {
	b := []byte(strings.Repeat("-----BEGIN CERTIFICATE-----\n", 40000) + "-----END CERTIFICATE-----\n")
	if ts, err := ParseTrustStore(b); err != nil || ts.Len() != 0 || ts.Skipped != 1 {
		t.Errorf("%v, %d roots, %d skipped", err, ts.Len(), ts.Skipped)
	}
}
