package depgraph

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/suggest"
)

// ErrUnknownCut is wrapped when a cut names a provider, country or AS that
// Bulwark does not know: a typo must not read as "nothing would be lost".
var ErrUnknownCut = errors.New("unknown in this cut")

// Resolve names each provider of the cut by its catalog id, so a cut may
// name a provider by its id, name, parent or any alias (a name-server
// domain it serves under); what the catalog does not know stays as
// given, for Check.
func (c Cut) Resolve(cat *attrib.Catalog) Cut {
	if cat == nil {
		return c
	}
	out := c
	out.Providers = make([]string, len(c.Providers))
	for i, p := range c.Providers {
		out.Providers[i] = p
		if id, ok := cat.Resolve(p); ok {
			out.Providers[i] = id
		}
	}
	return out
}

// Check refuses a cut naming a provider that is neither in the catalog nor
// seen in any service, a country that is neither an ISO 3166 country nor
// seen, or an AS no catalog entry or dependency has; the error lists near
// matches.
func (c Cut) Check(services []*Service, cat *attrib.Catalog) error {
	providers, countries, asns := map[string]bool{}, map[string]bool{}, map[uint32]bool{}
	if cat != nil {
		for _, p := range cat.Providers {
			providers[p.ID] = true
			countries[strings.ToUpper(p.Country)] = true
			for _, n := range p.ASNs {
				asns[n] = true
			}
		}
	}
	for _, s := range services {
		for _, l := range s.Layers {
			for _, it := range l.Items {
				providers[it.Attr.Provider], providers[it.HostedOn] = true, true
				countries[strings.ToUpper(it.Attr.Jurisdiction)], countries[strings.ToUpper(it.HostedIn)] = true, true
				asns[it.Attr.ASN] = true
			}
		}
	}
	delete(providers, "")
	delete(countries, "")
	var errs []error
	for _, p := range c.Providers {
		if !providers[p] {
			errs = append(errs, fmt.Errorf("provider %q: %w%s", p, ErrUnknownCut, nearMatches(p, providers)))
		}
	}
	for _, cc := range c.Countries {
		r, err := language.ParseRegion(cc)
		if !countries[cc] && (err != nil || !r.IsCountry()) {
			errs = append(errs, fmt.Errorf("country %q: %w: not an ISO 3166 country code%s", cc, ErrUnknownCut, nearMatches(cc, countries)))
		}
	}
	for _, n := range c.ASNs {
		if !asns[n] {
			errs = append(errs, fmt.Errorf("AS%d: %w: no catalog entry or observed dependency is in it", n, ErrUnknownCut))
		}
	}
	return errors.Join(errs...)
}

// nearMatches names up to five known keys close to s.
func nearMatches(s string, known map[string]bool) string {
	type cand struct {
		k string
		d int
	}
	var cs []cand
	ls := strings.ToLower(s)
	for k := range known {
		lk := strings.ToLower(k)
		d := suggest.Distance(ls, lk)
		if strings.Contains(lk, ls) || strings.Contains(ls, lk) {
			d = min(d, 1)
		}
		if d <= max(2, len(s)/3) {
			cs = append(cs, cand{k, d})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.k, b.k)
	})
	var names []string
	for i, c := range cs {
		if i == 5 {
			break
		}
		names = append(names, c.k)
	}
	return "; did you mean " + strings.Join(names, ", ") + "?"
}
