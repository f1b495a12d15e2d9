// Package attrib attributes observed dependencies to providers and
// jurisdictions, offline: IP addresses through MaxMind-format databases
// (country and AS), host names through the provider catalog's name
// suffixes, CA certificates through their SHA-256 or organisation.
// Every answer carries the rule and the data that decided it.
package attrib

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

//go:embed catalog/*.yaml
var shipped embed.FS

// Provider is a company a service may depend on.
type Provider struct {
	ID              string   `yaml:"id"`
	Name            string   `yaml:"name"`
	Parent          string   `yaml:"parent"`
	Country         string   `yaml:"country"` // of the parent company: the jurisdiction
	Kinds           []string `yaml:"kinds"`
	ASNs            []uint32 `yaml:"asns"`
	CNAMESuffixes   []string `yaml:"cname_suffixes"`
	NSSuffixes      []string `yaml:"ns_suffixes"`
	MXSuffixes      []string `yaml:"mx_suffixes"`
	CAOrganizations []string `yaml:"ca_organizations"`
	CASHA256        []string `yaml:"ca_sha256"`
	// Source is the file the entry came from.
	Source string `yaml:"-"`
}

// Registry is a name space whose registrants are bound to one
// jurisdiction by the registry's own rules (.gov: US government bodies
// only). A host under it that no provider entry names is self-operated
// by its registrant: its provider is its registered domain, its
// jurisdiction the registry's.
type Registry struct {
	// Suffixes are name patterns, as ns_suffixes; with a wildcard
	// (state.*.us) the matched name is the registrant's own space.
	Suffixes []string `yaml:"suffixes"`
	Country  string   `yaml:"country"`
	Rule     string   `yaml:"rule"` // the eligibility rule, in words
	Source   string   `yaml:"source"`
}

// catalogFile is one YAML file of the catalog.
type catalogFile struct {
	Providers  []Provider `yaml:"providers"`
	Registries []Registry `yaml:"registries"`
}

var (
	idRE      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
	kinds     = []string{"hosting", "cdn", "dns", "mail", "ca", "subresource"}
	sha256RE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate reports every problem of the file.
func (f *catalogFile) Validate() []configfile.Problem {
	var ps []configfile.Problem
	seen := map[string]int{}
	for i, p := range f.Providers {
		at := func(field string, format string, a ...any) {
			ps = append(ps, configfile.At(configfile.Path{"providers", i, field}, format, a...))
		}
		if !idRE.MatchString(p.ID) {
			at("id", "provider id %q must be lower-case letters, digits and dashes", p.ID)
		}
		if j, dup := seen[p.ID]; dup {
			at("id", "duplicate provider id %q (first at providers[%d])", p.ID, j)
		}
		seen[p.ID] = i
		if p.Name == "" {
			at("name", "a provider needs a name")
		}
		if !countryRE.MatchString(p.Country) {
			at("country", "country %q is not a two-letter ISO 3166 code of the parent company", p.Country)
		}
		for _, k := range p.Kinds {
			if !slices.Contains(kinds, k) {
				at("kinds", "unknown kind %q (known: %s)", k, strings.Join(kinds, ", "))
			}
		}
		for field, list := range map[string][]string{"cname_suffixes": p.CNAMESuffixes, "ns_suffixes": p.NSSuffixes, "mx_suffixes": p.MXSuffixes} {
			for _, s := range list {
				if err := validPattern(s); err != nil {
					at(field, "%v", err)
				}
			}
		}
		for _, h := range p.CASHA256 {
			if !sha256RE.MatchString(h) {
				at("ca_sha256", "%q is not a lower-case hex SHA-256", h)
			}
		}
	}
	for i, r := range f.Registries {
		if !countryRE.MatchString(r.Country) {
			ps = append(ps, configfile.At(configfile.Path{"registries", i, "country"}, "country %q is not a two-letter ISO 3166 code", r.Country))
		}
		if len(r.Suffixes) == 0 || r.Source == "" {
			ps = append(ps, configfile.At(configfile.Path{"registries", i}, "a registry needs suffixes and a source"))
		}
		for _, s := range r.Suffixes {
			if err := validPattern(s); err != nil {
				ps = append(ps, configfile.At(configfile.Path{"registries", i, "suffixes"}, "%v", err))
			}
		}
	}
	return ps
}

func validPattern(s string) error {
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return fmt.Errorf("name pattern %q must be labels separated by dots", s)
	}
	for _, l := range strings.Split(s, ".") {
		if _, err := path.Match(l, ""); err != nil {
			return fmt.Errorf("name pattern %q: %v", s, err)
		}
	}
	return nil
}

// Catalog is the merged provider catalog.
type Catalog struct {
	Providers  []*Provider
	Registries []Registry
	byID       map[string]*Provider
	byASN      map[uint32]*Provider
	byCAHash   map[string]*Provider
	byCAOrg    map[string]*Provider
	// names indexes the name patterns of each kind (cname, ns, mx): a
	// pattern without wildcards by its text, the rest in a short list.
	names map[string]*nameIndex
}

// nameIndex finds the most specific name pattern of one kind without
// scanning every provider: exact suffixes are looked up label by label.
type nameIndex struct {
	exact map[string]namePattern
	wild  []namePattern
}

type namePattern struct {
	p      *Provider
	pat    string
	labels []string
	order  int // position in the catalog: the first of equally specific patterns wins
}

// LoadCatalog reads the shipped catalog and then the operator's files;
// a provider in a later file replaces one with the same id.
func LoadCatalog(extra ...string) (*Catalog, error) {
	var files []*catalogFile
	entries, err := fs.Glob(shipped, "catalog/*.yaml")
	if err != nil {
		return nil, err
	}
	for _, name := range entries {
		b, err := shipped.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parseCatalog("internal/attrib/"+name, b)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	for _, name := range extra {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		f, err := parseCatalog(name, b)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return newCatalog(files), nil
}

func parseCatalog(name string, b []byte) (*catalogFile, error) {
	var f catalogFile
	if err := configfile.Load(name, b, &f); err != nil {
		return nil, err
	}
	for i := range f.Providers {
		f.Providers[i].Source = name
	}
	return &f, nil
}

func newCatalog(files []*catalogFile) *Catalog {
	c := &Catalog{byID: map[string]*Provider{}, byASN: map[uint32]*Provider{}, byCAHash: map[string]*Provider{}, byCAOrg: map[string]*Provider{}}
	for _, f := range files {
		c.Registries = append(c.Registries, f.Registries...)
		for i := range f.Providers {
			p := &f.Providers[i]
			if old, ok := c.byID[p.ID]; ok {
				c.Providers = slices.DeleteFunc(c.Providers, func(x *Provider) bool { return x == old })
			}
			c.byID[p.ID] = p
			c.Providers = append(c.Providers, p)
		}
	}
	c.names = map[string]*nameIndex{}
	order := 0
	for _, kind := range []string{"cname", "ns", "mx"} {
		ix := &nameIndex{exact: map[string]namePattern{}}
		for _, p := range c.Providers {
			for _, pat := range p.patterns(kind) {
				np := namePattern{p: p, pat: pat, labels: strings.Split(pat, "."), order: order}
				order++
				if strings.ContainsAny(pat, "*?[") {
					ix.wild = append(ix.wild, np)
				} else if _, dup := ix.exact[pat]; !dup {
					ix.exact[pat] = np
				}
			}
		}
		c.names[kind] = ix
	}
	for _, p := range c.Providers {
		for _, a := range p.ASNs {
			c.byASN[a] = p
		}
		for _, h := range p.CASHA256 {
			c.byCAHash[h] = p
		}
		for _, o := range p.CAOrganizations {
			c.byCAOrg[strings.ToLower(o)] = p
		}
	}
	return c
}

// Provider returns the provider with id.
func (c *Catalog) Provider(id string) (*Provider, bool) {
	p, ok := c.byID[id]
	return p, ok
}

// Resolve finds the provider s names: its id, name or parent company
// (any case), or any of its aliases, the name suffixes it serves under
// (cloudns.net, cloudns.com, awsdns-45.com); "domain:X", the report's
// name for an unknown operator, resolves through X too. It returns the
// provider's id.
func (c *Catalog) Resolve(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if p, ok := c.byID[s]; ok {
		return p.ID, true
	}
	for _, p := range c.Providers {
		if strings.EqualFold(s, p.Name) || strings.EqualFold(s, p.Parent) || strings.EqualFold(s, p.ID) {
			return p.ID, true
		}
	}
	name := strings.TrimPrefix(s, "domain:")
	if !strings.Contains(name, ".") {
		return "", false
	}
	for _, kind := range []string{"ns", "mx", "cname"} {
		if p, _, ok := c.ByName(kind, name); ok {
			return p.ID, true
		}
		// An alias given as a bare domain ("cloudns.net") also names the
		// provider whose pattern sits under it ("*.cloudns.net").
		if p, _, ok := c.ByName(kind, "ns."+name); ok {
			return p.ID, true
		}
	}
	return "", false
}

// ByRegistry returns the registry whose name space holds name, with the
// pattern that matched (the most specific).
func (c *Catalog) ByRegistry(name string) (Registry, string, bool) {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(name, ".")), ".")
	var best Registry
	bestPat, bestLen := "", 0
	for _, r := range c.Registries {
		for _, pat := range r.Suffixes {
			pl := strings.Split(pat, ".")
			if len(pl) >= len(labels) || len(pl) <= bestLen { // a host under it, not the suffix itself
				continue
			}
			if matchLabels(pl, labels[len(labels)-len(pl):]) {
				best, bestPat, bestLen = r, pat, len(pl)
			}
		}
	}
	return best, bestPat, bestLen > 0
}

// ByASN returns the provider announcing asn.
func (c *Catalog) ByASN(asn uint32) (*Provider, bool) {
	p, ok := c.byASN[asn]
	return p, ok
}

// ByName returns the provider whose pattern for kind (cname, ns, mx)
// matches name, preferring the most specific (most labels) pattern and,
// among equally specific ones, the first in the catalog.
func (c *Catalog) ByName(kind, name string) (*Provider, string, bool) {
	ix := c.names[kind]
	if ix == nil {
		return nil, "", false
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	labels := strings.Split(name, ".")
	var best namePattern
	bestLen := 0
	// Exact suffixes, longest first: the first hit is the most specific.
	for i, off := 0, 0; i < len(labels); i++ {
		if e, ok := ix.exact[name[off:]]; ok {
			best, bestLen = e, len(labels)-i
			break
		}
		off += len(labels[i]) + 1
	}
	for _, w := range ix.wild {
		n := len(w.labels)
		if n > len(labels) || n < bestLen || (n == bestLen && w.order > best.order) {
			continue
		}
		if matchLabels(w.labels, labels[len(labels)-n:]) {
			best, bestLen = w, n
		}
	}
	if best.p == nil {
		return nil, "", false
	}
	return best.p, best.pat, true
}

// patterns returns the provider's name patterns of kind.
func (p *Provider) patterns(kind string) []string {
	switch kind {
	case "cname":
		return p.CNAMESuffixes
	case "ns":
		return p.NSSuffixes
	case "mx":
		return p.MXSuffixes
	}
	return nil
}

func matchLabels(pattern, labels []string) bool {
	for i := range pattern {
		if ok, _ := path.Match(pattern[i], labels[i]); !ok {
			return false
		}
	}
	return true
}

// ByCA returns the CA owner by certificate SHA-256, else by organisation.
func (c *Catalog) ByCA(sha256, org string) (*Provider, string, bool) {
	if p, ok := c.byCAHash[strings.ToLower(sha256)]; ok && sha256 != "" {
		return p, "ca-sha256", true
	}
	if p, ok := c.byCAOrg[strings.ToLower(org)]; ok && org != "" {
		return p, "ca-organization", true
	}
	return nil, "", false
}
