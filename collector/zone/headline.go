package zone

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/depgraph"
)

// Count is a number of domains for one country or provider.
type Count struct {
	Key     string `json:"key"`            // a country code or a provider id
	Name    string `json:"name,omitempty"` // the provider's name
	Domains int    `json:"domains"`
}

// Headline is what the operator reads first: who outside the country can
// take the zone's domains off the air, how concentrated they are, how
// many are signed, and how much could not be placed at all.
type Headline struct {
	// ForeignOnly domains depend solely on providers under foreign
	// jurisdiction (every name server placed, every one abroad), by the
	// country and the provider (a domain with two counts under both).
	ForeignOnly           int     `json:"foreign_only"`
	ForeignOnlyByCountry  []Count `json:"foreign_only_by_country"`
	ForeignOnlyByProvider []Count `json:"foreign_only_by_provider"`
	// SingleProvider domains rely on one DNS provider.
	SingleProvider int `json:"single_provider"`
	// Signed domains have a DS record.
	Signed int     `json:"signed"`
	DNSSEC float64 `json:"dnssec_coverage"`
	// Unattributed domains: no name server could be placed in a
	// jurisdiction (neither foreign nor domestic); PartlyUnattributed: some
	// could not. UnattributedProviders are the largest unplaced name-server
	// domains: what to add to the catalog.
	Unattributed          int     `json:"unattributed"`
	PartlyUnattributed    int     `json:"partly_unattributed"`
	UnattributedProviders []Count `json:"unattributed_providers"`
}

// headlineTally gathers the headline while the report walks the domains.
type headlineTally struct {
	h                        Headline
	byCountry, byProv, unatt map[string]*Count
}

func newHeadlineTally() *headlineTally {
	return &headlineTally{byCountry: map[string]*Count{}, byProv: map[string]*Count{}, unatt: map[string]*Count{}}
}

func bump(m map[string]*Count, key, name string) {
	c := m[key]
	if c == nil {
		c = &Count{Key: key, Name: name}
		m[key] = c
	}
	c.Domains++
}

// add counts one domain's DNS layer.
func (t *headlineTally) add(l *depgraph.Layer, foreignOnly, signed bool) {
	if signed {
		t.h.Signed++
	}
	if len(l.Providers) == 1 {
		t.h.SingleProvider++
	}
	switch {
	case l.State == depgraph.Unattributed:
		t.h.Unattributed++
	case l.Unattributed > 0:
		t.h.PartlyUnattributed++
	}
	seen := map[string]bool{}
	for _, it := range l.Items {
		p := it.Attr.Provider
		switch {
		case it.Unattributed && !seen["u"+p]:
			seen["u"+p] = true
			bump(t.unatt, p, "")
		case foreignOnly && !seen["c"+it.Attr.Jurisdiction]:
			seen["c"+it.Attr.Jurisdiction] = true
			bump(t.byCountry, it.Attr.Jurisdiction, "")
		}
		if foreignOnly && !seen["p"+p] {
			seen["p"+p] = true
			bump(t.byProv, p, it.Attr.ProviderName)
		}
	}
	if foreignOnly {
		t.h.ForeignOnly++
	}
}

// done sorts the counts, largest first, and keeps the 20 largest of each.
func (t *headlineTally) done(domains int) Headline {
	sorted := func(m map[string]*Count) []Count {
		out := make([]Count, 0, len(m))
		for _, c := range m {
			out = append(out, *c)
		}
		slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Domains, a.Domains), cmp.Compare(a.Key, b.Key)) })
		return out[:min(len(out), 20)]
	}
	t.h.ForeignOnlyByCountry, t.h.ForeignOnlyByProvider, t.h.UnattributedProviders = sorted(t.byCountry), sorted(t.byProv), sorted(t.unatt)
	t.h.DNSSEC = float64(t.h.Signed) / float64(max(domains, 1))
	return t.h
}

// writeHeadline prints the headline.
func (r *Report) writeHeadline(w io.Writer) {
	h, n := r.Headline, float64(max(r.Domains, 1))
	list := func(cs []Count, k int) string {
		var parts []string
		for i, c := range cs {
			if i == k {
				parts = append(parts, fmt.Sprintf("%d more", len(cs)-k))
				break
			}
			parts = append(parts, fmt.Sprintf("%s %d", cmp.Or(c.Name, c.Key), c.Domains))
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "Foreign only:  %d domains (%.1f%%) depend solely on DNS providers under foreign jurisdiction", h.ForeignOnly, 100*float64(h.ForeignOnly)/n)
	if h.ForeignOnly > 0 {
		fmt.Fprintf(w, "\n               by country: %s\n               by provider: %s", list(h.ForeignOnlyByCountry, 10), list(h.ForeignOnlyByProvider, 10))
	}
	fmt.Fprintf(w, "\nOne provider:  %d domains (%.1f%%) rely on a single DNS provider\n", h.SingleProvider, 100*float64(h.SingleProvider)/n)
	fmt.Fprintf(w, "DNSSEC:        %d domains (%.1f%%) signed\n", h.Signed, 100*h.DNSSEC)
	fmt.Fprintf(w, "Unattributed:  %d domains (%.1f%%) with no name server placed in a jurisdiction, %d more partly; neither foreign nor domestic\n",
		h.Unattributed, 100*float64(h.Unattributed)/n, h.PartlyUnattributed)
	if len(h.UnattributedProviders) > 0 {
		fmt.Fprintf(w, "               largest unplaced: %s\n               (add them to a catalog file, attribution.catalog_files, or load a newer IP database)\n",
			list(h.UnattributedProviders, 8))
	}
	fmt.Fprintln(w)
}
