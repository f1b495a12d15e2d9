package demo

import (
	"fmt"
	"strings"
	"time"
)

// RTO is the recovery time objective the demo gives a service of the
// criticality: how long it may stay lost in a drill.
func RTO(criticality int) time.Duration {
	switch criticality {
	case 1:
		return 15 * time.Minute
	case 2:
		return time.Hour
	}
	return 4 * time.Hour
}

// ZoneText is the national zone (Zone) as its registry exports it: each
// service's name delegated to the name servers of its DNS provider at the
// start, with their addresses as glue, so that the DNS report has content
// before any agent resolves a name.
func (w *World) ZoneText(exported time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, ";; Exported: %s\n$ORIGIN %s.\n", exported.UTC().Format("2006-01-02 15:04:05"), Zone)
	fmt.Fprintf(&b, "@ 3600 IN SOA ns1.arcanet.test. registry.%s. 1 3600 900 604800 300\n", Zone)
	fmt.Fprintf(&b, "@ 3600 IN NS ns1.arcanet.test.\n")
	glue := map[string]bool{}
	for _, s := range w.Services {
		p, ok := ProviderByID(s.DNS)
		if !ok {
			continue
		}
		for i, ns := range []string{"ns1", "ns2"} {
			host := ns + "." + p.Domain + "."
			fmt.Fprintf(&b, "%s 3600 IN NS %s\n", s.ID, host)
			if !glue[host] {
				glue[host] = true
				fmt.Fprintf(&b, "%s 3600 IN A %s\n", host, providerAddr(p.ID, 53, i+1))
			}
		}
	}
	return b.String()
}
