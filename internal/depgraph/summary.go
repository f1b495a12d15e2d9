package depgraph

import (
	"cmp"
	"slices"
)

// Count is a number of services (or domains) for one country or provider.
type Count struct {
	Key   string `json:"key"`            // a country code or a provider id
	Name  string `json:"name,omitempty"` // the provider's name
	Count int    `json:"count"`
}

// LayerSummary is what an operator reads first about one layer across
// services: who abroad can take them down alone, how concentrated they
// are, and how much could not be placed.
type LayerSummary struct {
	Layer    string         `json:"layer"`
	Services int            `json:"services"`
	States   map[string]int `json:"states"`
	// ForeignOnly services depend solely on providers under foreign
	// jurisdiction (every item placed, every one abroad), by country and
	// provider (a service with two counts under both).
	ForeignOnly           int     `json:"foreign_only"`
	ForeignOnlyByCountry  []Count `json:"foreign_only_by_country"`
	ForeignOnlyByProvider []Count `json:"foreign_only_by_provider"`
	// SingleProvider services rely on one provider for the layer.
	SingleProvider int `json:"single_provider"`
	// Unattributed services: no item of the layer placed in a jurisdiction;
	// PartlyUnattributed: some not. UnattributedProviders are the largest
	// unplaced: what to add to the catalog.
	Unattributed          int     `json:"unattributed"`
	PartlyUnattributed    int     `json:"partly_unattributed"`
	UnattributedProviders []Count `json:"unattributed_providers"`
}

// ForeignOnly reports whether every item of l is placed and abroad.
func (l *Layer) ForeignOnly() bool {
	return (l.State == ForeignCritical || l.State == ForeignMulti) && l.Unattributed == 0
}

// Tally builds a LayerSummary one layer at a time.
type Tally struct {
	s                        LayerSummary
	byCountry, byProv, unatt map[string]*Count
}

// NewTally starts the summary of the named layer.
func NewTally(layer string) *Tally {
	return &Tally{s: LayerSummary{Layer: layer, States: map[string]int{}},
		byCountry: map[string]*Count{}, byProv: map[string]*Count{}, unatt: map[string]*Count{}}
}

func bump(m map[string]*Count, key, name string) {
	c := m[key]
	if c == nil {
		c = &Count{Key: key, Name: name}
		m[key] = c
	}
	c.Count++
}

// Add counts one service's layer.
func (t *Tally) Add(l *Layer) {
	t.s.Services++
	t.s.States[l.State]++
	if len(l.Providers) == 1 {
		t.s.SingleProvider++
	}
	switch {
	case l.State == Unattributed:
		t.s.Unattributed++
	case l.Unattributed > 0:
		t.s.PartlyUnattributed++
	}
	foreignOnly := l.ForeignOnly()
	if foreignOnly {
		t.s.ForeignOnly++
	}
	seen := map[string]bool{}
	for _, it := range l.Items {
		p := providerKey(it)
		switch {
		case it.Unattributed && !seen["u"+p]:
			seen["u"+p] = true
			bump(t.unatt, p, it.Attr.ProviderName)
		case foreignOnly && !seen["c"+it.Attr.Jurisdiction]:
			seen["c"+it.Attr.Jurisdiction] = true
			bump(t.byCountry, it.Attr.Jurisdiction, "")
		}
		if foreignOnly && !seen["p"+p] {
			seen["p"+p] = true
			bump(t.byProv, p, it.Attr.ProviderName)
		}
	}
}

// Summary sorts the counts, largest first, keeping the 20 largest of each.
func (t *Tally) Summary() LayerSummary {
	sorted := func(m map[string]*Count) []Count {
		out := make([]Count, 0, len(m))
		for _, c := range m {
			out = append(out, *c)
		}
		slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key)) })
		return out[:min(len(out), 20)]
	}
	s := t.s
	s.ForeignOnlyByCountry, s.ForeignOnlyByProvider, s.UnattributedProviders = sorted(t.byCountry), sorted(t.byProv), sorted(t.unatt)
	return s
}

// Summarize summarises every layer the services have, in Layers order.
func Summarize(services []*Service) []LayerSummary {
	tallies := map[string]*Tally{}
	for _, s := range services {
		for _, l := range s.Layers {
			if tallies[l.Name] == nil {
				tallies[l.Name] = NewTally(l.Name)
			}
			tallies[l.Name].Add(l)
		}
	}
	var out []LayerSummary
	for _, name := range layerOrder {
		if t := tallies[name]; t != nil {
			out = append(out, t.Summary())
		}
	}
	return out
}
