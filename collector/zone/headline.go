package zone

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// Headline is what the operator reads first: who outside the country can
// take the zone's domains off the air (every name server placed, every one
// abroad), how concentrated they are, how many are signed, and how much
// could not be placed at all (neither foreign nor domestic).
type Headline struct {
	depgraph.LayerSummary
	// Signed domains have a DS record.
	Signed int     `json:"signed"`
	DNSSEC float64 `json:"dnssec_coverage"`
}

// noHome is what the report says of foreign dependencies when the policy
// has no home country: every jurisdiction is then neither foreign nor
// domestic, and a count of 0 would read as good news.
const noHome = "cannot tell foreign from domestic without a home country: set attribution.policy.home in the collector configuration, or give --home CC"

// writeHeadline prints the headline.
func (r *Report) writeHeadline(w io.Writer) {
	h, n := r.Headline, float64(max(r.Domains, 1))
	list := func(cs []depgraph.Count, k int) string {
		var parts []string
		for i, c := range cs {
			if i == k {
				parts = append(parts, fmt.Sprintf("%d more", len(cs)-k))
				break
			}
			parts = append(parts, fmt.Sprintf("%s %d", cmp.Or(c.Name, c.Key), c.Count))
		}
		return strings.Join(parts, ", ")
	}
	if r.Home == "" {
		fmt.Fprintf(w, "Foreign only:  %s", noHome)
	} else {
		fmt.Fprintf(w, "Foreign only:  %d domains (%.1f%%) depend solely on DNS providers under foreign jurisdiction", h.ForeignOnly, 100*float64(h.ForeignOnly)/n)
	}
	if r.Home != "" && h.ForeignOnly > 0 {
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
