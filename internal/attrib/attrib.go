package attrib

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
)

// Rules say which data decided an attribution.
const (
	RuleCatalogASN  = "catalog-asn"  // the address's AS belongs to a catalogued provider
	RuleCatalogName = "catalog-name" // the name matches a catalogued provider's suffix
	RuleCatalogCA   = "catalog-ca"   // the CA certificate's hash or organisation is catalogued
	RuleRegistry    = "registry"     // no catalogued provider: a name space only registrants of one jurisdiction may hold (.gov)
	RuleASCountry   = "as-country"   // no catalogued provider: the country most of the AS's networks are registered to
	RuleGeoIP       = "geoip"        // no catalogued provider: the address's location
	RuleTrustStore  = "trust-store"  // no catalogued CA: the trusted root it is, or chains to, and that root's country
	RuleCertCountry = "cert-country" // no catalogued CA: the country in the CA certificate
	RuleUnknown     = "unknown"      // nothing known: unattributed (neither foreign nor domestic)
	RuleInvalid     = "invalid"      // the observation was not a valid address or name
)

// Attribution is who is behind one dependency, and why we think so.
type Attribution struct {
	Provider     string `json:"provider,omitempty"` // catalog id, or "as<N>" for uncatalogued ASes
	ProviderName string `json:"provider_name,omitempty"`
	ASN          uint32 `json:"asn,omitempty"`
	ASName       string `json:"as_name,omitempty"`
	Country      string `json:"country,omitempty"` // geolocation of the address, when one was looked up
	Jurisdiction string `json:"jurisdiction,omitempty"`
	Rule         string `json:"rule"`
	Evidence     string `json:"evidence"`
}

// Attributor attributes addresses, names and CAs.
type Attributor struct {
	// Catalog is the catalog at construction; SetCatalog replaces it
	// while the attributor is in use (a configuration reload).
	Catalog *Catalog
	// Geo may be nil: addresses are then attributed only by name.
	Geo *Geo
	// Roots may be nil: the machine's trusted roots, for CAs the catalog
	// does not name.
	Roots *TrustStore

	reloaded atomic.Pointer[Catalog]
	mu       sync.Mutex
	cache    map[cacheKey]Attribution // nil unless Cached
}

// SetCatalog makes c the catalog of every later attribution.
func (a *Attributor) SetCatalog(c *Catalog) {
	a.reloaded.Store(c)
	a.mu.Lock()
	if a.cache != nil {
		clear(a.cache)
	}
	a.mu.Unlock()
}

// CatalogInUse is the catalog attributions are made with now.
func (a *Attributor) CatalogInUse() *Catalog {
	if c := a.reloaded.Load(); c != nil {
		return c
	}
	return a.Catalog
}

type cacheKey struct{ kind, name, addr string }

// Cached returns an attributor over the same data that remembers its
// answers: for bulk work such as a zone, where the same name servers
// recur thousands of times.
func (a *Attributor) Cached() *Attributor {
	return &Attributor{Catalog: a.CatalogInUse(), Geo: a.Geo, cache: map[cacheKey]Attribution{}}
}

func (a *Attributor) remember(k cacheKey, f func() Attribution) Attribution {
	if a.cache == nil {
		return f()
	}
	a.mu.Lock()
	v, ok := a.cache[k]
	a.mu.Unlock()
	if ok {
		return v
	}
	v = f()
	a.mu.Lock()
	a.cache[k] = v
	a.mu.Unlock()
	return v
}

// Addr attributes an IP address: AS -> catalogued provider -> parent's
// country, else the address's geolocation.
func (a *Attributor) Addr(s string) Attribution {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return Attribution{Rule: RuleInvalid, Evidence: fmt.Sprintf("%q is not an IP address", trunc(s))}
	}
	if a.Geo == nil {
		return Attribution{Rule: RuleUnknown, Evidence: fmt.Sprintf("%s: no geo database configured", addr)}
	}
	rec, err := a.Geo.Lookup(addr)
	if err != nil {
		return Attribution{Rule: RuleUnknown, Evidence: err.Error()}
	}
	out := Attribution{ASN: rec.ASN, ASName: rec.ASName, Country: rec.Country}
	if p, ok := a.CatalogInUse().ByASN(rec.ASN); ok && rec.ASN != 0 {
		out.Provider, out.ProviderName, out.Jurisdiction, out.Rule = p.ID, p.Name, p.Country, RuleCatalogASN
		out.Evidence = fmt.Sprintf("%s is in AS%d %s, which is %s (parent %s, %s)", addr, rec.ASN, rec.ASName, p.Name, p.Parent, p.Country)
		return out
	}
	if rec.ASN != 0 {
		out.Provider, out.ProviderName = fmt.Sprintf("as%d", rec.ASN), rec.ASName
	}
	if rec.ASCountry != "" {
		out.Jurisdiction, out.Rule = rec.ASCountry, RuleASCountry
		out.Evidence = fmt.Sprintf("%s is in AS%d %s, not in the catalog, whose networks are mostly registered to %s (this address: %s)",
			addr, rec.ASN, rec.ASName, rec.ASCountry, cmp.Or(rec.Country, "unknown"))
		return out
	}
	if rec.Country == "" {
		out.Rule = RuleUnknown
		out.Evidence = fmt.Sprintf("%s: AS%d %s is not in the catalog and the address has no location", addr, rec.ASN, rec.ASName)
		return out
	}
	out.Jurisdiction, out.Rule = rec.Country, RuleGeoIP
	out.Evidence = fmt.Sprintf("%s geolocates to %s (AS%d %s, not in the catalog)", addr, rec.Country, rec.ASN, rec.ASName)
	return out
}

// Name attributes a host name seen as kind (cname, ns, mx, subresource)
// by the catalog's name patterns, else by its first address.
func (a *Attributor) Name(kind, name string, addrs ...string) Attribution {
	if a.cache != nil && len(addrs) <= 1 {
		addr := ""
		if len(addrs) == 1 {
			addr = addrs[0]
		}
		return a.remember(cacheKey{kind, name, addr}, func() Attribution { return a.name(kind, name, addrs...) })
	}
	return a.name(kind, name, addrs...)
}

func (a *Attributor) name(kind, name string, addrs ...string) Attribution {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if !validHostname(name) {
		return Attribution{Rule: RuleInvalid, Evidence: fmt.Sprintf("%q is not a host name", trunc(name))}
	}
	kinds := []string{kind}
	if kind == "subresource" || kind == "hosting" {
		kinds = []string{"cname", "ns", "mx"}
	}
	for _, k := range kinds {
		if p, pat, ok := a.CatalogInUse().ByName(k, name); ok {
			return Attribution{Provider: p.ID, ProviderName: p.Name, Jurisdiction: p.Country, Rule: RuleCatalogName,
				Evidence: fmt.Sprintf("%s matches %s, a %s name of %s (parent %s, %s)", name, pat, k, p.Name, p.Parent, p.Country)}
		}
	}
	var byAddr *Attribution // an address that placed nothing, for its evidence
	for _, ad := range addrs {
		if ad == "" {
			continue
		}
		at := a.Addr(ad)
		if at.Rule == RuleInvalid {
			continue
		}
		at.Evidence = name + ": " + at.Evidence
		if at.Jurisdiction != "" {
			return at
		}
		if byAddr == nil {
			byAddr = &at
		}
	}
	if r, pat, ok := a.CatalogInUse().ByRegistry(name); ok {
		dom := registeredUnder(name, pat)
		return Attribution{Provider: "domain:" + dom, ProviderName: dom, Jurisdiction: r.Country, Rule: RuleRegistry,
			Evidence: fmt.Sprintf("%s is under %s, which %s (%s): operated by the registrant of %s", name, pat, r.Rule, r.Source, dom)}
	}
	if byAddr != nil {
		return *byAddr
	}
	return Attribution{Rule: RuleUnknown, Evidence: fmt.Sprintf("%s matches no catalogued provider and has no address", name)}
}

// CA attributes a CA certificate by SHA-256, else organisation, else the
// country written in the certificate.
func (a *Attributor) CA(sha256, org, country string) Attribution {
	return a.CACert(CACert{SHA256: sha256, Org: org, Country: country})
}

// CACert is what an agent saw of a CA certificate.
type CACert struct {
	SHA256, Org, Country string
	// AnchorKeyID is the key identifier (hex) of the root the chain the
	// server sent leads to, when the agent could tell.
	AnchorKeyID string
}

// CACert attributes a CA: through the catalog (by hash, then
// organisation: parent companies the certificate does not name), then the
// trusted roots (the root it is or chains to, then a root of the same
// organisation; the catalog again by that root's organisation), then the
// country the certificate states.
func (a *Attributor) CACert(c CACert) Attribution {
	cat := a.CatalogInUse()
	if p, how, ok := cat.ByCA(c.SHA256, c.Org); ok {
		return Attribution{Provider: p.ID, ProviderName: p.Name, Jurisdiction: p.Country, Rule: RuleCatalogCA,
			Evidence: fmt.Sprintf("CA %q (%s) belongs to %s (parent %s, %s)", trunc(c.Org), how, p.Name, p.Parent, p.Country)}
	}
	if a.Roots != nil {
		root, how, ok := Root{}, "", false
		for _, k := range []string{c.AnchorKeyID, c.SHA256} {
			if k != "" && !ok {
				root, ok = a.Roots.ByKey(k)
				how = "chains to the trusted root"
			}
		}
		if !ok && c.Org != "" {
			root, ok = a.Roots.ByOrganization(c.Org)
			how = "is the organisation of the trusted root"
		}
		if ok {
			if p, _, cok := cat.ByCA(root.SHA256, root.Organization); cok {
				return Attribution{Provider: p.ID, ProviderName: p.Name, Jurisdiction: p.Country, Rule: RuleCatalogCA,
					Evidence: fmt.Sprintf("CA %q %s %q of %s, which belongs to %s (parent %s, %s)", trunc(c.Org), how, cmp.Or(root.Subject, root.Organization), root.Organization, p.Name, p.Parent, p.Country)}
			}
			if len(root.Country) == 2 {
				return Attribution{Provider: "ca:" + strings.ToLower(trunc(root.Organization)), ProviderName: root.Organization, Jurisdiction: root.Country,
					Rule: RuleTrustStore, Evidence: fmt.Sprintf("CA %q %s %q (%s, %s) in %s", trunc(c.Org), how, cmp.Or(root.Subject, root.Organization), root.Organization, root.Country, cmp.Or(a.Roots.Source, "the trust store"))}
			}
		}
	}
	if len(c.Country) == 2 {
		return Attribution{Provider: "ca:" + strings.ToLower(trunc(c.Org)), ProviderName: c.Org, Jurisdiction: strings.ToUpper(c.Country), Rule: RuleCertCountry,
			Evidence: fmt.Sprintf("CA %q is not in the catalog; its certificate names country %s", trunc(c.Org), c.Country)}
	}
	return Attribution{Rule: RuleUnknown, Evidence: fmt.Sprintf("CA %q is not in the catalog nor the trusted roots, and names no country", trunc(c.Org))}
}

// registeredUnder is the domain registered directly under the matched
// suffix pattern: ns1.gsa.gov under gov is gsa.gov. A pattern with a
// wildcard names the registrant's own space: dns1.state.mn.us under
// state.*.us is state.mn.us.
func registeredUnder(name, pat string) string {
	l := strings.Split(name, ".")
	n := len(strings.Split(pat, "."))
	if !strings.Contains(pat, "*") {
		n++
	}
	return strings.Join(l[len(l)-min(n, len(l)):], ".")
}

// validHostname accepts letters, digits, '-' and '_' in labels of 1 to 63
// bytes, 253 bytes in all.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
