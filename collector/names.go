package collector

import (
	"slices"

	"github.com/bulwarkhq/bulwark/collector/names"
	"github.com/bulwarkhq/bulwark/collector/zone"
)

// unglued is what agents are asked to resolve: the name servers without
// glue that the catalog cannot name, in the newest snapshot of every
// imported zone, at most names.MaxNames (each zone's list is computed once
// per snapshot and catalog: agents ask on every poll).
func unglued(zones *zone.Store, reports *zone.Reports) []string {
	origins, err := zones.Origins()
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range origins {
		names, err := reports.Unglued(o)
		if err != nil {
			continue
		}
		out = append(out, names...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out[:min(len(out), names.MaxNames)]
}
