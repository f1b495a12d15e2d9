package zone

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// Analysis is a zone attributed and scored: the DNS layer of every
// delegated domain, as a dependency graph.
type Analysis struct {
	Snapshot *Snapshot
	Services []*depgraph.Service // one per domain, DNS layer only
	Types    map[string]string   // domain -> type ("" when unknown)
	// Operators maps each unknown operator seen under several top-level
	// domains to its group's key (see groupUnknown).
	Operators map[string]string
	// Home is the policy's home country: without one nothing is foreign.
	Home string
}

// Analyze attributes every delegation's name servers (by name through the
// catalog, else by glue address through the geo databases) and decides the
// DNS layer's state under pol. types maps a domain to its type (from the
// imported target list), for the per-type figures.
func Analyze(s *Snapshot, a *attrib.Attributor, pol *attrib.Policy, types map[string]string) *Analysis {
	return AnalyzeWith(s, a, pol, types, nil)
}

// AnalyzeWith is Analyze with the addresses agents resolved for name
// servers that have no glue (resolved may be nil): those are attributed
// by address too.
func AnalyzeWith(s *Snapshot, a *attrib.Attributor, pol *attrib.Policy, types map[string]string, resolved func(name string) []string) *Analysis {
	an := &Analysis{Snapshot: s, Types: map[string]string{}, Home: pol.Home}
	a = a.Cached() // name servers recur across thousands of domains
	obs := make([]depgraph.Observation, 0, 8)
	for i := range s.Delegations {
		svc := serviceOf(&s.Delegations[i], a, pol, types, resolved, obs)
		an.Types[svc.Target] = types[svc.Target]
		an.Services = append(an.Services, svc)
	}
	an.Operators = groupUnknown(an.Services)
	return an
}

// serviceOf is the DNS layer of one delegation, its unknown operators
// keyed by their name servers' domain (before grouping). obs is scratch.
func serviceOf(d *Delegation, a *attrib.Attributor, pol *attrib.Policy, types map[string]string, resolved func(name string) []string, obs []depgraph.Observation) *depgraph.Service {
	dom := strings.TrimSuffix(d.Domain, ".")
	obs = obs[:0]
	for _, ns := range d.NS {
		addr := ""
		if g := d.Glue[ns]; len(g) > 0 {
			addr = g[0]
		} else if resolved != nil {
			if r := resolved(ns); len(r) > 0 {
				addr = r[0]
			}
		}
		obs = append(obs, depgraph.Observation{Layer: "dns", Kind: "ns", Name: strings.TrimSuffix(ns, "."), Addr: addr})
	}
	svc := depgraph.Build(dom, types[dom], obs, a, pol)
	for _, l := range svc.Layers {
		for i := range l.Items {
			if l.Items[i].Attr.Provider == "" {
				// Unknown operator: group by the name server's domain.
				l.Items[i].Attr.Provider = "domain:" + registrable(l.Items[i].Name)
			}
		}
		l.Providers = providersOf(l)
	}
	return svc
}

// registrable approximates the domain a host name was registered under.
func registrable(host string) string {
	l := strings.Split(host, ".")
	if len(l) >= 3 && len(l[len(l)-2]) <= 3 && len(l[len(l)-1]) == 2 { // co.uk, gov.au
		return strings.Join(l[len(l)-3:], ".")
	}
	if len(l) >= 2 {
		return strings.Join(l[len(l)-2:], ".")
	}
	return host
}

func providersOf(l *depgraph.Layer) []string {
	var out []string
	for _, it := range l.Items {
		if !slices.Contains(out, it.Attr.Provider) {
			out = append(out, it.Attr.Provider)
		}
	}
	slices.Sort(out)
	return out
}

// ProviderRow is one DNS provider's place in the zone.
type ProviderRow struct {
	Provider     string  `json:"provider"`
	Name         string  `json:"name,omitempty"`
	Jurisdiction string  `json:"jurisdiction"`
	Foreign      bool    `json:"foreign"`
	Domains      int     `json:"domains"`  // domains using it
	Critical     int     `json:"critical"` // domains depending on it alone
	Share        float64 `json:"share"`    // Domains / all domains
}

// TypeRow is the figures of one domain type.
type TypeRow struct {
	Type        string  `json:"type"`
	Domains     int     `json:"domains"`
	Signed      int     `json:"signed"` // with a DS record
	DNSSEC      float64 `json:"dnssec_coverage"`
	ForeignOnly int     `json:"foreign_only"`
	Unplaced    int     `json:"unplaced"` // with a name server of unknown jurisdiction
	HHI         float64 `json:"hhi"`      // of DNS providers, 0..10000
	TopProvider string  `json:"top_provider"`
	TopShare    float64 `json:"top_share"`
}

// DomainRow is one domain in the domain table.
type DomainRow struct {
	Domain        string   `json:"domain"`
	Type          string   `json:"type,omitempty"`
	State         string   `json:"state"`
	Providers     []string `json:"providers"`
	Jurisdictions []string `json:"jurisdictions"`
	DNSSEC        bool     `json:"dnssec"`
	Evidence      string   `json:"evidence"`
}

// Report is the DNS report of a zone.
type Report struct {
	Origin      string        `json:"origin"`
	Exported    string        `json:"exported"`
	Domains     int           `json:"domains"`
	NSRecords   int           `json:"ns_records"`
	DSRecords   int           `json:"ds_records"`
	Providers   []ProviderRow `json:"providers"`
	Types       []TypeRow     `json:"types"`
	ForeignOnly []string      `json:"foreign_only_domains"`
	Headline    Headline      `json:"headline"`
	DomainRows  []DomainRow   `json:"domains_detail,omitempty"`
	// Home is the home country the report was made for; "" when the
	// policy has none, and then no domain can be told foreign.
	Home string `json:"home"`
}

// Report computes the figures; withDomains adds one row per domain.
func (an *Analysis) Report(withDomains bool) *Report {
	b := newReportBuilder()
	var rows []DomainRow
	if withDomains {
		b.onDomain = func(r DomainRow) error { rows = append(rows, r); return nil }
	}
	for i, svc := range an.Services {
		b.add(svc, an.Snapshot.Delegations[i].DS, an.Types[svc.Target])
	}
	r := b.finish(an.Snapshot, len(an.Snapshot.Delegations))
	r.DomainRows, r.Home = rows, an.Home
	return r
}

// WriteText prints the report for a reader.
func (r *Report) WriteText(w io.Writer, top int) {
	fmt.Fprintf(w, "Zone %s (exported %s): %d delegated domains, %d NS records, %d DS records\n\n", r.Origin, r.Exported, r.Domains, r.NSRecords, r.DSRecords)
	r.writeHeadline(w)
	name := func(p ProviderRow) string {
		return cmp.Or(p.Name, p.Provider) // an unknown operator's name is its key, or its group's

	}
	pw := len("DNS PROVIDER")
	for i, p := range r.Providers {
		if i < top {
			pw = max(pw, len(name(p))) // names are not cut
		}
	}
	fmt.Fprintf(w, "%-*s %-4s %8s %8s %7s\n", pw, "DNS PROVIDER", "JUR", "DOMAINS", "ALONE", "SHARE")
	for i, p := range r.Providers {
		if i == top {
			fmt.Fprintf(w, "... %d more providers\n", len(r.Providers)-top)
			break
		}
		fmt.Fprintf(w, "%-*s %-4s %8d %8d %6.1f%%\n", pw, name(p), cmp.Or(p.Jurisdiction, "?"), p.Domains, p.Critical, 100*p.Share)
	}
	width := len("DOMAIN TYPE")
	for _, t := range r.Types {
		width = max(width, len(t.Type)) // long type names are not cut
	}
	fmt.Fprintf(w, "\n%-*s %8s %8s %9s %8s  %s\n", width, "DOMAIN TYPE", "DOMAINS", "DNSSEC", "FOREIGN", "HHI", "LARGEST PROVIDER")
	for _, t := range r.Types {
		fmt.Fprintf(w, "%-*s %8d %7.1f%% %9d %8.0f  %s (%.0f%%)\n", width, t.Type, t.Domains, 100*t.DNSSEC, t.ForeignOnly, t.HHI, t.TopProvider, 100*t.TopShare)
	}
	if r.Home == "" {
		fmt.Fprintf(w, "\n%s\n", noHome)
		return
	}
	fmt.Fprintf(w, "\n%d domains have their DNS entirely under foreign jurisdiction.\n", len(r.ForeignOnly))
}

var domainHeader = []string{"domain", "type", "state", "providers", "jurisdictions", "dnssec", "evidence"}

func (d DomainRow) csv() []string {
	return []string{d.Domain, d.Type, d.State, strings.Join(d.Providers, " "), strings.Join(d.Jurisdictions, " "), strconv.FormatBool(d.DNSSEC), d.Evidence}
}

// CSVTables are the tables WriteCSV writes.
func CSVTables() []string { return []string{"providers", "domains", "types"} }

// WriteCSV writes the provider table ("providers") or the domain table
// ("domains") as CSV, for the people who write the ministers' briefing.
func (r *Report) WriteCSV(w io.Writer, table string) error {
	cw := csv.NewWriter(w)
	switch table {
	case "providers":
		cw.Write([]string{"provider", "name", "jurisdiction", "foreign", "domains", "depending_alone", "share"})
		for _, p := range r.Providers {
			cw.Write([]string{p.Provider, p.Name, p.Jurisdiction, strconv.FormatBool(p.Foreign), strconv.Itoa(p.Domains), strconv.Itoa(p.Critical), strconv.FormatFloat(p.Share, 'f', 4, 64)})
		}
	case "domains":
		cw.Write(domainHeader)
		for _, d := range r.DomainRows {
			cw.Write(d.csv())
		}
	case "types":
		cw.Write([]string{"type", "domains", "signed", "dnssec_coverage", "foreign_only", "hhi", "top_provider", "top_share"})
		for _, t := range r.Types {
			cw.Write([]string{t.Type, strconv.Itoa(t.Domains), strconv.Itoa(t.Signed), strconv.FormatFloat(t.DNSSEC, 'f', 4, 64),
				strconv.Itoa(t.ForeignOnly), strconv.FormatFloat(t.HHI, 'f', 0, 64), t.TopProvider, strconv.FormatFloat(t.TopShare, 'f', 4, 64)})
		}
	default:
		return fmt.Errorf("unknown table %q: providers, domains or types", table)
	}
	cw.Flush()
	return cw.Error()
}

// Changes lists the domains whose DNS providers or jurisdictions differ
// between an earlier analysis and this one.
func (an *Analysis) Changes(before *Analysis) []depgraph.Drift {
	tr := depgraph.NewTracker(1 << 20)
	tr.Observe(before.Services, before.Snapshot.Exported)
	return tr.Observe(an.Services, an.Snapshot.Exported)
}

// Unglued lists, sorted and distinct, the name servers of the zone that
// carry no glue and that the catalog cannot name: the long tail only an
// address can attribute, which agents resolve for the collector.
func (s *Snapshot) Unglued(cat *attrib.Catalog) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range s.Delegations {
		for _, ns := range d.NS {
			name := strings.ToLower(strings.TrimSuffix(ns, "."))
			if seen[name] || len(d.Glue[ns]) > 0 {
				continue
			}
			seen[name] = true
			if _, _, ok := cat.ByName("ns", name); !ok {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}
