package depgraph

import (
	"net/netip"
	"slices"
)

// CutSet is what agents must refuse for a drill of cut to behave as the
// what-if reads it: the observed addresses of every dependency the cut
// removes (as host prefixes), the cut's own address ranges, and the names
// of the name servers it removes (a name server seen without an address
// is cut by name).
func CutSet(services []*Service, cut Cut) (prefixes []netip.Prefix, names []string) {
	prefixes = slices.Clone(cut.CIDRs)
	seen := map[string]bool{}
	for _, s := range services {
		for _, l := range s.Layers {
			for _, it := range l.Items {
				if !cut.hits(it) {
					continue
				}
				if l.Name == "dns" && !seen["ns:"+it.Name] {
					seen["ns:"+it.Name] = true
					names = append(names, it.Name)
				}
				for _, ad := range it.Addrs {
					a, err := netip.ParseAddr(ad)
					if err != nil || seen[ad] {
						continue
					}
					seen[ad] = true
					prefixes = append(prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				}
			}
		}
	}
	return prefixes, names
}
