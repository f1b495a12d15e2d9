// Package depgraph turns raw dependency observations into each service's
// dependency graph: service -> layer -> provider -> jurisdiction, with a
// state per layer, a published score, evidence in plain words, drift
// between evaluations, and what-if answers for the loss of a country, a
// provider, an AS or address ranges.
package depgraph

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/attrib"
)

// layerOrder is the layers in the order they are shown.
var layerOrder = [...]string{"hosting", "cdn", "dns", "ca", "mail", "subresource"}

// Layers returns the layers in the order they are shown.
func Layers() []string { return slices.Clone(layerOrder[:]) }

// Weight is a layer's weight in the published score: a weighted mean of
// layer state values over the layers a service has. Hosting and DNS weigh
// most because losing either takes the service down. An unknown layer
// weighs 0.
func Weight(layer string) float64 {
	switch layer {
	case "hosting":
		return 0.30
	case "dns":
		return 0.25
	case "cdn":
		return 0.15
	case "ca", "mail", "subresource":
		return 0.10
	}
	return 0
}

// States of a layer, after the critical-dependency idea of Kashaf et al.
// (IMC 2020), with their score values.
const (
	Domestic         = "domestic"          // nothing foreign
	ForeignRedundant = "foreign-redundant" // foreign and domestic side by side
	ForeignMulti     = "foreign-multi"     // only foreign, but more than one provider
	ForeignCritical  = "foreign-critical"  // one foreign provider alone
	// Unattributed: no dependency of the layer could be placed in a
	// jurisdiction. Neither foreign nor domestic: left out of the score.
	Unattributed = "unattributed"
)

// StateValue is the score value of a state (an unattributed layer has
// none: it does not count; nor does an unknown state, valued 0).
func StateValue(state string) float64 {
	switch state {
	case ForeignRedundant:
		return 0.25
	case ForeignMulti:
		return 0.75
	case ForeignCritical:
		return 1
	}
	return 0 // Domestic
}

// Observation is one raw probe_dependency_info series.
type Observation struct {
	Layer, Kind, Name, Addr string
	Org, Country, SHA256    string // ca layer
	AnchorKeyID             string // ca layer: the key id of the root the served chain leads to
}

// Item is one attributed dependency of a layer (a name server, an address, a CA).
type Item struct {
	Name    string             `json:"name"`
	Addrs   []string           `json:"addrs,omitempty"`
	Attr    attrib.Attribution `json:"attribution"`
	Foreign bool               `json:"foreign"`
	// Unattributed: its jurisdiction is unknown (never counted as foreign,
	// nor as domestic).
	Unattributed bool `json:"unattributed,omitempty"`
	// HostedOn is the provider whose network serves a named dependency
	// when it is not the provider itself (a DNS provider on a cloud), and
	// HostedIn that provider's jurisdiction.
	HostedOn string `json:"hosted_on,omitempty"`
	HostedIn string `json:"hosted_in,omitempty"`
}

// Layer is one layer of a service.
type Layer struct {
	Name      string   `json:"layer"`
	State     string   `json:"state"`
	Items     []Item   `json:"items"`
	Providers []string `json:"providers"` // distinct, sorted
	Countries []string `json:"jurisdictions"`
	Evidence  string   `json:"evidence"`
	// Unattributed counts the items of unknown jurisdiction.
	Unattributed int `json:"unattributed"`
}

// Service is a service's graph.
type Service struct {
	Target     string   `json:"target"`
	Sector     string   `json:"sector"`
	Layers     []*Layer `json:"layers"`
	Score      float64  `json:"score"`
	WorstLayer string   `json:"worst_layer,omitempty"`
	WorstState string   `json:"worst_state,omitempty"`
}

// Layer returns the named layer, or nil.
func (s *Service) Layer(name string) *Layer {
	for _, l := range s.Layers {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// maxItems bounds a layer: observations are untrusted input.
const maxItems = 64

// Build attributes a service's observations and computes its layers.
func Build(target, sector string, obs []Observation, a *attrib.Attributor, pol *attrib.Policy) *Service {
	svc := &Service{Target: target, Sector: sector}
	byLayer := map[string]map[string]*Item{}
	add := func(layer, name, addr string, at func() attrib.Attribution) {
		m := byLayer[layer]
		if m == nil {
			m = map[string]*Item{}
			byLayer[layer] = m
		}
		key := name
		if key == "" {
			key = addr
		}
		it, ok := m[key]
		if !ok {
			if len(m) >= maxItems {
				return
			}
			it = &Item{Name: key}
			m[key] = it
		}
		if addr != "" && !slices.Contains(it.Addrs, addr) && len(it.Addrs) < 16 {
			it.Addrs = append(it.Addrs, addr)
		}
		it.Attr = at()
	}
	for _, o := range obs {
		switch o.Layer {
		case "hosting":
			switch o.Kind {
			case "cname":
				at := a.Name("cname", o.Name)
				if p, ok := a.CatalogInUse().Provider(at.Provider); ok && slices.Contains(p.Kinds, "cdn") {
					add("cdn", o.Name, "", func() attrib.Attribution { return at })
				}
			case "a", "aaaa":
				add("hosting", o.Addr, o.Addr, func() attrib.Attribution { return a.Addr(o.Addr) })
			}
		case "dns":
			add("dns", o.Name, o.Addr, func() attrib.Attribution { return a.Name("ns", o.Name, o.Addr) })
		case "mail":
			add("mail", o.Name, o.Addr, func() attrib.Attribution { return a.Name("mx", o.Name, o.Addr) })
		case "ca":
			if o.Kind == "issuer" {
				add("ca", o.Name, "", func() attrib.Attribution {
					return a.CACert(attrib.CACert{SHA256: o.SHA256, Org: o.Org, Country: o.Country, AnchorKeyID: o.AnchorKeyID})
				})
			}
		case "subresource":
			add("subresource", o.Name, "", func() attrib.Attribution { return a.Name("subresource", o.Name) })
		}
	}
	for _, name := range layerOrder {
		m := byLayer[name]
		if len(m) == 0 {
			continue
		}
		l := &Layer{Name: name}
		for _, it := range m {
			if it.Attr.Rule == attrib.RuleCatalogName && len(it.Addrs) > 0 && a.Geo != nil {
				if on := a.Addr(it.Addrs[0]); on.Provider != "" && on.Provider != it.Attr.Provider {
					it.HostedOn, it.HostedIn = on.Provider, on.Jurisdiction
				}
			}
			it.Foreign = pol.Foreign(it.Attr.Jurisdiction, sector, target)
			it.Unattributed = it.Attr.Jurisdiction == ""
			l.Items = append(l.Items, *it)
		}
		slices.SortFunc(l.Items, func(x, y Item) int { return cmp.Compare(x.Name, y.Name) })
		l.decide()
		svc.Layers = append(svc.Layers, l)
	}
	svc.score()
	return svc
}

// providerKey groups items by provider, else AS, else name.
func providerKey(it Item) string {
	switch {
	case it.Attr.Provider != "":
		return it.Attr.Provider
	case it.Attr.ASN != 0:
		return fmt.Sprintf("as%d", it.Attr.ASN)
	}
	return "?" + it.Name
}

// decide sets the layer's state from the items that could be placed; those
// that could not are counted apart. Known-foreign items beside unplaced ones
// (and no domestic one) are foreign-multi: the unplaced may be another
// provider, so "alone" cannot be claimed.
func (l *Layer) decide() {
	foreign, unknown := 0, 0
	provs, countries := map[string]bool{}, map[string]bool{}
	otherProvs := map[string]bool{} // foreign or unplaced
	for _, it := range l.Items {
		k := providerKey(it)
		provs[k] = true
		j := it.Attr.Jurisdiction
		if j == "" {
			j = "??"
		}
		countries[j] = true
		switch {
		case it.Unattributed:
			unknown++
			otherProvs[k] = true
		case it.Foreign:
			foreign++
			otherProvs[k] = true
		}
	}
	l.Providers = sortedKeys(provs)
	l.Countries = sortedKeys(countries)
	l.Unattributed = unknown
	n := len(l.Items)
	switch {
	case unknown == n:
		l.State = Unattributed
	case foreign == 0:
		l.State = Domestic
	case foreign+unknown < n:
		l.State = ForeignRedundant
	case len(otherProvs) > 1:
		l.State = ForeignMulti
	default:
		l.State = ForeignCritical
	}
	l.Evidence = l.describe(foreign, n)
}

var layerNouns = map[string]string{"hosting": "addresses", "cdn": "CDN names", "dns": "name servers", "ca": "issuing CAs", "mail": "mail hosts", "subresource": "third-party hosts"}

// describe writes the evidence, such as
// "dns: 2/2 name servers foreign: Cathay DNS (AS64521, XC)".
func (l *Layer) describe(foreign, n int) string {
	var parts []string
	seen := map[string]bool{}
	for _, it := range l.Items {
		name := it.Attr.ProviderName
		if name == "" {
			name = it.Name
		}
		p := name
		if it.Attr.ASN != 0 {
			p += fmt.Sprintf(" (AS%d, %s)", it.Attr.ASN, cmp.Or(it.Attr.Jurisdiction, "unknown jurisdiction"))
		} else {
			p += fmt.Sprintf(" (%s)", cmp.Or(it.Attr.Jurisdiction, "unknown jurisdiction"))
		}
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	unattributed := ""
	if l.Unattributed > 0 {
		unattributed = fmt.Sprintf(", %d unattributed", l.Unattributed)
	}
	return fmt.Sprintf("%s: %d/%d %s foreign%s: %s", l.Name, foreign, n, layerNouns[l.Name], unattributed, strings.Join(parts, "; "))
}

func (s *Service) score() {
	var sum, weights float64
	worst := -1.0
	for _, l := range s.Layers {
		if l.State == Unattributed {
			continue // neither foreign nor domestic: it does not count
		}
		v, w := StateValue(l.State), Weight(l.Name)
		sum += w * v
		weights += w
		if v > worst || (v == worst && w > Weight(s.WorstLayer)) {
			worst, s.WorstLayer, s.WorstState = v, l.Name, l.State
		}
	}
	if weights > 0 {
		s.Score = sum / weights
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// addrIn reports whether s parses and falls inside one of the prefixes.
func addrIn(s string, prefixes []netip.Prefix) bool {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
