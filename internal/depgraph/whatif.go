package depgraph

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Cut is what a what-if removes: countries, providers, ASes, address ranges.
type Cut struct {
	Countries []string       `json:"countries,omitempty"`
	Providers []string       `json:"providers,omitempty"`
	ASNs      []uint32       `json:"asns,omitempty"`
	CIDRs     []netip.Prefix `json:"cidrs,omitempty"`
}

// Empty reports whether the cut removes nothing.
func (c Cut) Empty() bool {
	return len(c.Countries)+len(c.Providers)+len(c.ASNs)+len(c.CIDRs) == 0
}

func (c Cut) String() string {
	var p []string
	for _, x := range c.Countries {
		p = append(p, "country "+x)
	}
	for _, x := range c.Providers {
		p = append(p, "provider "+x)
	}
	for _, x := range c.ASNs {
		p = append(p, fmt.Sprintf("AS%d", x))
	}
	for _, x := range c.CIDRs {
		p = append(p, x.String())
	}
	return strings.Join(p, ", ")
}

// hits reports whether the cut removes the item.
func (c Cut) hits(it Item) bool {
	a := it.Attr
	if a.Jurisdiction != "" && slices.Contains(c.Countries, strings.ToUpper(a.Jurisdiction)) {
		return true
	}
	if a.Provider != "" && slices.Contains(c.Providers, a.Provider) {
		return true
	}
	if a.ASN != 0 && slices.Contains(c.ASNs, a.ASN) {
		return true
	}
	// A provider runs on another's network: cutting the host cuts it too.
	if it.HostedOn != "" && (slices.Contains(c.Providers, it.HostedOn) || slices.Contains(c.Countries, it.HostedIn)) {
		return true
	}
	for _, ad := range it.Addrs {
		if addrIn(ad, c.CIDRs) {
			return true
		}
	}
	return false
}

// Outcome of a service under a cut.
const (
	Lost      = "lost"      // a critical layer is entirely inside the cut
	Degraded  = "degraded"  // some redundancy left, or only subresources or mail hit
	Untouched = "untouched" // nothing inside the cut
	// Unknown: not lost as far as is known, but a critical layer's
	// unattributed dependencies could be inside the cut, and would take it
	// down: an unknown is not read as safe.
	Unknown = "unattributed"
)

// critical layers take the service down when all of their items are cut.
var critical = map[string]bool{"hosting": true, "dns": true, "cdn": true}

// Impact is one service's outcome with its reasons.
type Impact struct {
	Target      string   `json:"target"`
	Sector      string   `json:"sector"`
	Criticality int      `json:"criticality,omitempty"`
	Outcome     string   `json:"outcome"`
	Reasons     []string `json:"reasons,omitempty"`
}

// Concentration is the share of services depending on one provider or
// country (in any critical layer).
type Concentration struct {
	Key      string  `json:"key"`
	Services int     `json:"services"`
	Share    float64 `json:"share"`
}

// WhatIf is the answer to a cut.
type WhatIf struct {
	Cut       string                    `json:"cut"`
	Services  []Impact                  `json:"services"`
	Totals    map[string]int            `json:"totals"`
	BySector  map[string]map[string]int `json:"by_sector"`
	Providers []Concentration           `json:"provider_concentration"`
	Countries []Concentration           `json:"country_concentration"`
	// HHI per sector of the providers of critical layers (0..10000).
	HHI map[string]float64 `json:"hhi_by_sector"`
	// Observed of Total known services have a graph: the answer covers
	// those alone (see Completeness).
	Observed int `json:"observed"`
	Total    int `json:"total"`
}

// SetCompleteness counts which of the known targets have a graph among
// services; without known targets every graph counts as one known.
func (w *WhatIf) SetCompleteness(services []*Service, known []string) {
	has := make(map[string]bool, len(services))
	for _, s := range services {
		has[s.Target] = true
	}
	w.Observed, w.Total = 0, len(known)
	for _, id := range known {
		if has[id] {
			w.Observed++
			delete(has, id)
		}
	}
	// graphs of targets no longer listed still answer: count them too
	w.Observed += len(has)
	w.Total += len(has)
}

// Completeness says how much of the known world the answer covers, e.g.
// "graphs for 11 of 24 services; 13 not yet observed".
func (w *WhatIf) Completeness() string {
	if w.Observed >= w.Total {
		return fmt.Sprintf("graphs for all %d services", w.Total)
	}
	return fmt.Sprintf("graphs for %d of %d services; %d not yet observed", w.Observed, w.Total, w.Total-w.Observed)
}

// Evaluate answers a cut over services. crit gives each target's
// criticality (optional).
func Evaluate(services []*Service, cut Cut, crit map[string]int) *WhatIf {
	w := &WhatIf{Observed: len(services), Total: len(services), Cut: cut.String(), Totals: map[string]int{Lost: 0, Degraded: 0, Untouched: 0, Unknown: 0}, BySector: map[string]map[string]int{}, HHI: map[string]float64{}}
	byPlace := len(cut.Countries)+len(cut.Providers) > 0 // what unplaced items cannot be tested against
	for _, s := range services {
		im := Impact{Target: s.Target, Sector: s.Sector, Criticality: crit[s.Target], Outcome: Untouched}
		var unsure []string
		for _, l := range s.Layers {
			hit, unk := 0, 0
			for _, it := range l.Items {
				switch {
				case cut.hits(it):
					hit++
				case it.Unattributed:
					unk++
				}
			}
			if byPlace && unk > 0 && hit+unk == len(l.Items) && critical[l.Name] {
				unsure = append(unsure, fmt.Sprintf("%s: %d/%d %s unattributed, the rest inside the cut", l.Name, unk, len(l.Items), layerNouns[l.Name]))
			}
			if hit == 0 {
				continue
			}
			switch {
			case hit == len(l.Items) && critical[l.Name]:
				im.Outcome = Lost
				im.Reasons = append(im.Reasons, fmt.Sprintf("%s: all %d %s inside the cut", l.Name, hit, layerNouns[l.Name]))
			default:
				if im.Outcome == Untouched {
					im.Outcome = Degraded
				}
				im.Reasons = append(im.Reasons, fmt.Sprintf("%s: %d/%d %s inside the cut", l.Name, hit, len(l.Items), layerNouns[l.Name]))
			}
		}
		if im.Outcome != Lost && len(unsure) > 0 {
			im.Outcome, im.Reasons = Unknown, append(im.Reasons, unsure...)
		}
		w.Services = append(w.Services, im)
		w.Totals[im.Outcome]++
		if w.BySector[s.Sector] == nil {
			w.BySector[s.Sector] = map[string]int{}
		}
		w.BySector[s.Sector][im.Outcome]++
	}
	order := map[string]int{Lost: 0, Unknown: 1, Degraded: 2, Untouched: 3}
	slices.SortFunc(w.Services, func(a, b Impact) int {
		return cmp.Or(cmp.Compare(order[a.Outcome], order[b.Outcome]), cmp.Compare(a.Sector, b.Sector), cmp.Compare(a.Target, b.Target))
	})
	w.Providers, w.Countries, w.HHI = concentration(services)
	return w
}

// concentration counts, for each provider and country, the services that
// use it in a critical layer, and the HHI of provider shares per sector.
func concentration(services []*Service) (provs, countries []Concentration, hhi map[string]float64) {
	pc, cc := map[string]int{}, map[string]int{}
	sectorUse := map[string]map[string]int{}
	for _, s := range services {
		ps, cs := map[string]bool{}, map[string]bool{}
		for _, l := range s.Layers {
			if !critical[l.Name] {
				continue
			}
			for _, it := range l.Items {
				ps[providerKey(it)] = true
				if it.Attr.Jurisdiction != "" {
					cs[it.Attr.Jurisdiction] = true
				}
			}
		}
		if sectorUse[s.Sector] == nil {
			sectorUse[s.Sector] = map[string]int{}
		}
		for p := range ps {
			pc[p]++
			sectorUse[s.Sector][p]++
		}
		for c := range cs {
			cc[c]++
		}
	}
	n := float64(max(len(services), 1))
	list := func(m map[string]int) []Concentration {
		var out []Concentration
		for k, v := range m {
			out = append(out, Concentration{Key: k, Services: v, Share: float64(v) / n})
		}
		slices.SortFunc(out, func(a, b Concentration) int {
			return cmp.Or(cmp.Compare(b.Services, a.Services), cmp.Compare(a.Key, b.Key))
		})
		return out
	}
	hhi = map[string]float64{}
	for sector, use := range sectorUse {
		total := 0
		for _, v := range use {
			total += v
		}
		for _, v := range use {
			share := 100 * float64(v) / float64(total)
			hhi[sector] += share * share
		}
	}
	return list(pc), list(cc), hhi
}
