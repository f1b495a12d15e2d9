package console

import (
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/zone"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// Issue 10: the DNS report page opens with the headline: foreign only by
// country and provider, one provider, DNSSEC, the unattributed and the
// largest unplaced.
func TestDNSReportHeadline(t *testing.T) {
	rep := &zone.Report{Origin: "gov.", Domains: 16536, Headline: zone.Headline{Signed: 2069, DNSSEC: 0.125,
		LayerSummary: depgraph.LayerSummary{ForeignOnly: 805, SingleProvider: 16132, Unattributed: 3641, PartlyUnattributed: 184,
			ForeignOnlyByCountry:  []depgraph.Count{{Key: "BG", Count: 276}, {Key: "IL", Count: 265}},
			ForeignOnlyByProvider: []depgraph.Count{{Key: "wix", Name: "Wix", Count: 265}},
			UnattributedProviders: []depgraph.Count{{Key: "domain:uberns.com", Name: "domain:uberns.com (also uberns.net, uberns.org, uberns.info)", Count: 181}, {Key: "domain:ndnic.net", Count: 42}}}}}
	page := get(t, Options{DNSReport: func() (*zone.Report, error) { return rep, nil }}, "/reports/dns")
	for _, want := range []string{`id="headline"`, "805", "BG 276, IL 265", "Wix 265", "16132", "12.5%", "3641",
		"domain:uberns.com (also uberns.net, uberns.org, uberns.info) 181", "domain:ndnic.net 42"} {
		if !strings.Contains(page, want) {
			t.Errorf("DNS report page lacks %q", want)
		}
	}
}
