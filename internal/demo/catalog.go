package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CatalogYAML is the provider catalog of the demo world, in the
// collector's catalog format: the ground truth attribution must recover.
func CatalogYAML() []byte {
	var b strings.Builder
	b.WriteString("# The demo world's providers (fictional; ASNs from the private range).\nproviders:\n")
	for _, p := range Providers() {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    parent: %s\n    country: %s\n    kinds: [%s]\n    asns: [%d]\n",
			p.ID, p.Name, p.Name, p.Country, strings.Join(p.Kinds, ", "), p.ASN)
		fmt.Fprintf(&b, "    cname_suffixes: [%s]\n    ns_suffixes: [%s]\n    mx_suffixes: [%s]\n", p.Domain, p.Domain, p.Domain)
		for _, c := range caOwners {
			if c.Provider == p.ID {
				fmt.Fprintf(&b, "    ca_organizations: [%q]\n", c.Org)
			}
		}
	}
	for _, c := range caOwners {
		if _, ok := ProviderByID(c.Provider); !ok {
			fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    parent: %s\n    country: %s\n    kinds: [ca]\n    ca_organizations: [%q]\n",
				c.Provider, c.Org, c.Org, c.Country, c.Org)
		}
	}
	return []byte(b.String())
}

// WriteCatalog writes CatalogYAML to dir/catalog.yaml and returns its path.
func WriteCatalog(dir string) (string, error) {
	p := filepath.Join(dir, "catalog.yaml")
	if err := os.WriteFile(p, CatalogYAML(), 0o644); err != nil {
		return "", fmt.Errorf("testenv: %w", err)
	}
	return p, nil
}

// Truth is the expected provider of each layer of a service.
func (s *Service) Truth() map[string]string {
	t := map[string]string{"dns": s.DNS, "mail": s.Mail, "ca": s.CA}
	if s.CDN != "" {
		t["cdn"], t["hosting"] = s.CDN, s.CDN
	} else {
		t["hosting"] = s.Hosting
	}
	return t
}
