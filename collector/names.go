package collector

import (
	"slices"

	"github.com/bulwarkhq/bulwark/collector/attrib"
	"github.com/bulwarkhq/bulwark/collector/names"
	"github.com/bulwarkhq/bulwark/collector/zone"
)

// unglued is what agents are asked to resolve: the name servers without
// glue that the catalog cannot name, in the newest snapshot of every
// imported zone, at most names.MaxNames.
func unglued(zones *zone.Store, cat *attrib.Catalog) []string {
	origins, err := zones.Origins()
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range origins {
		snap, _, err := zones.Latest(o)
		if err != nil {
			continue
		}
		out = append(out, snap.Unglued(cat)...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out[:min(len(out), names.MaxNames)]
}
