package zone

import (
	"cmp"
	"maps"
	"slices"

	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// reportBuilder makes a Report one service at a time: its memory grows
// with what the report holds (providers, types, foreign-only domains), not
// with the services it has seen. onDomain, when set, is handed each
// domain's row instead of keeping them.
type reportBuilder struct {
	r        Report
	prov     map[string]*ProviderRow
	types    map[string]*TypeRow
	typeUse  map[string]map[string]int
	head     *depgraph.Tally
	signed   int
	onDomain func(DomainRow) error
	err      error // the first error of onDomain
}

func newReportBuilder() *reportBuilder {
	return &reportBuilder{prov: map[string]*ProviderRow{}, types: map[string]*TypeRow{},
		typeUse: map[string]map[string]int{}, head: depgraph.NewTally("dns")}
}

// add counts one delegation: its service (grouped), whether it has a DS
// record, and its domain type ("" when unknown).
func (b *reportBuilder) add(svc *depgraph.Service, ds bool, domainType string) {
	l := svc.Layer("dns")
	if l == nil {
		return
	}
	typ := cmp.Or(domainType, "unknown")
	tr := b.types[typ]
	if tr == nil {
		tr = &TypeRow{Type: typ}
		b.types[typ] = tr
		b.typeUse[typ] = map[string]int{}
	}
	tr.Domains++
	if ds {
		tr.Signed++
	}
	// Entirely foreign: every name server placed, and all of them abroad.
	// A name server that cannot be placed is counted apart.
	foreignOnly := l.ForeignOnly()
	if l.Unattributed > 0 {
		tr.Unplaced++
	}
	b.head.Add(l)
	if ds {
		b.signed++
	}
	if foreignOnly {
		tr.ForeignOnly++
		b.r.ForeignOnly = append(b.r.ForeignOnly, svc.Target)
	}
	for _, p := range l.Providers {
		row := b.prov[p]
		if row == nil {
			row = &ProviderRow{Provider: p}
			for _, it := range l.Items {
				if it.Attr.Provider == p {
					row.Name, row.Jurisdiction, row.Foreign = it.Attr.ProviderName, it.Attr.Jurisdiction, it.Foreign
					break
				}
			}
			b.prov[p] = row
		}
		row.Domains++
		if len(l.Providers) == 1 {
			row.Critical++
		}
		b.typeUse[typ][p]++
	}
	if b.onDomain != nil && b.err == nil {
		b.err = b.onDomain(DomainRow{Domain: svc.Target, Type: domainType, State: l.State,
			Providers: l.Providers, Jurisdictions: l.Countries, DNSSEC: ds, Evidence: l.Evidence})
	}
}

// finish sorts the figures of a zone of s's header and domains delegations.
func (b *reportBuilder) finish(s *Snapshot, domains int) *Report {
	r := &b.r
	r.Origin, r.Exported, r.Domains = s.Origin, s.Exported.Format("2006-01-02 15:04:05 MST"), domains
	r.NSRecords, r.DSRecords = s.NSRecords, s.DSRecords
	for _, p := range b.prov {
		p.Share = float64(p.Domains) / float64(max(r.Domains, 1))
		r.Providers = append(r.Providers, *p)
	}
	slices.SortFunc(r.Providers, func(a, b ProviderRow) int {
		return cmp.Or(cmp.Compare(b.Domains, a.Domains), cmp.Compare(a.Provider, b.Provider))
	})
	for typ, tr := range b.types {
		tr.DNSSEC = float64(tr.Signed) / float64(tr.Domains)
		total := 0
		for _, n := range b.typeUse[typ] {
			total += n
		}
		// In provider order: a sum of floats in map order differed in its
		// last digits from one computation to the next.
		for _, p := range slices.Sorted(maps.Keys(b.typeUse[typ])) {
			n := b.typeUse[typ][p]
			share := float64(n) / float64(total)
			tr.HHI += 10000 * share * share
			if n > int(tr.TopShare*float64(total)+0.5) || (n == int(tr.TopShare*float64(total)+0.5) && p < tr.TopProvider) {
				tr.TopProvider, tr.TopShare = p, share
			}
		}
		r.Types = append(r.Types, *tr)
	}
	slices.SortFunc(r.Types, func(a, b TypeRow) int { return cmp.Or(cmp.Compare(b.Domains, a.Domains), cmp.Compare(a.Type, b.Type)) })
	slices.Sort(r.ForeignOnly)
	r.Headline = Headline{LayerSummary: b.head.Summary(), Signed: b.signed, DNSSEC: float64(b.signed) / float64(max(r.Domains, 1))}
	return r
}
