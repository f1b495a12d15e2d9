// The nation of the demo world: its countries, providers, networks and
// critical services, the ground truth attribution must recover.

package demo

import (
	"net/netip"
	"slices"
	"time"
)

// Countries returns the countries of the demo world: Arcadia is home,
// Borealis a trusted partner, Cathay and Dravia foreign. XA-XD are ISO 3166
// user-assigned codes.
func Countries() map[string]string {
	return map[string]string{"XA": "Arcadia", "XB": "Borealis", "XC": "Cathay", "XD": "Dravia"}
}

// Provider is an infrastructure company of the demo world.
type Provider struct {
	ID      string
	Name    string
	Kinds   []string // hosting, dns, cdn, ca, mail
	Country string   // of the parent company
	ASN     uint32
	ASName  string
	Net     string // its /16 inside 127.0.0.0/8
	Domain  string // its own DNS domain
}

// Providers returns the ground truth the attribution must recover.
func Providers() []Provider {
	return []Provider{
		{ID: "arcanet", Name: "ArcaNet", Kinds: []string{"hosting", "dns", "mail"}, Country: "XA", ASN: 64501, ASName: "ARCANET-AS ArcaNet", Net: "127.1.0.0/16", Domain: "arcanet.test"},
		{ID: "arcatel", Name: "Arcadia Telecom", Kinds: []string{"hosting", "dns"}, Country: "XA", ASN: 64502, ASName: "ARCATEL Arcadia Telecom", Net: "127.2.0.0/16", Domain: "arcatel.test"},
		{ID: "borealis", Name: "Borealis Cloud", Kinds: []string{"hosting", "dns"}, Country: "XB", ASN: 64510, ASName: "BOREALIS-CLOUD", Net: "127.10.0.0/16", Domain: "borealis-cloud.test"},
		{ID: "skyline", Name: "Skyline CDN", Kinds: []string{"cdn", "ca"}, Country: "XC", ASN: 64520, ASName: "SKYLINE-CDN", Net: "127.20.0.0/16", Domain: "skylinecdn.test"},
		{ID: "cathaydns", Name: "Cathay DNS", Kinds: []string{"dns"}, Country: "XC", ASN: 64521, ASName: "CATHAYDNS", Net: "127.21.0.0/16", Domain: "cathaydns.test"},
		{ID: "dravia", Name: "Dravia Cloud", Kinds: []string{"hosting", "dns", "mail", "ca"}, Country: "XD", ASN: 64530, ASName: "DRAVIA-CLOUD", Net: "127.30.0.0/16", Domain: "draviacloud.test"},
	}
}

// Vantage networks: the agents dial from these so services can tell home from abroad.
var (
	homeNet   = Network{CIDR: "127.100.0.0/16", ASN: 64540, ASName: "ARCADIA-BROADBAND", Country: "XA"}
	abroadNet = Network{CIDR: "127.200.0.0/16", ASN: 64550, ASName: "CATHAY-TRANSIT", Country: "XC"}
)

// HomeSource is the home agents' source address, inside the home network.
func HomeSource() netip.Addr { return netip.AddrFrom4([4]byte{127, 100, 0, 1}) }

// AbroadSource is the agents' source address abroad.
func AbroadSource() netip.Addr { return netip.AddrFrom4([4]byte{127, 200, 0, 1}) }

// CAs of the demo world, by provider id that owns them.
var caOwners = []struct{ Provider, Name, Org, Country string }{
	{"arcatrust", "ArcaTrust Root R1", "ArcaTrust", "XA"},
	{"borealis", "Borealis Sign Root", "Borealis Cloud", "XB"},
	{"skyline", "Skyline Trust Root", "Skyline CDN", "XC"},
	{"dravia", "Dravia Sign Root", "Dravia Cloud", "XD"},
}

// Trait is a behaviour of a service the operator must notice.
type Trait string

// Service traits.
const (
	Flapping Trait = "flapping" // down every other 20 seconds (Options.FlapPeriod)
	Slow     Trait = "slow"     // answers after 2.5 s: above the built-in 2 s latency objective
	Expiring Trait = "expiring" // certificate expires within 5 days
	HomeOnly Trait = "home-only"
	Drift    Trait = "dns-drift" // its DNS moves to Cathay DNS while running
)

// SlowDelay is how long a slow service takes to answer: above the built-in
// latency objective (2 s), so the demo shows a latency alert.
const SlowDelay = 2500 * time.Millisecond

// Service is one critical service of Arcadia.
type Service struct {
	ID, Name, Sector, Operator string
	Criticality                int
	Hosting, DNS, CA, Mail     string // provider ids ("arcatrust" for the domestic CA)
	CDN                        string // provider id when fronted by a CDN
	Traits                     []Trait

	Host string         // its DNS name
	Addr netip.AddrPort // where it listens
	URL  string
}

// Has tells whether s has trait t.
func (s *Service) Has(t Trait) bool { return slices.Contains(s.Traits, t) }

// services is the catalogue of Arcadia's critical services.
func services() []*Service {
	s := func(id, name, sector, op string, crit int, hosting, dnsP, ca, mail, cdn string, traits ...Trait) *Service {
		return &Service{ID: id, Name: name, Sector: sector, Operator: op, Criticality: crit,
			Hosting: hosting, DNS: dnsP, CA: ca, Mail: mail, CDN: cdn, Traits: traits}
	}
	return []*Service{
		s("grid-portal", "Grid operator portal", "energy", "ArcaGrid", 1, "arcanet", "arcanet", "arcatrust", "arcanet", ""),
		s("grid-market", "Electricity market API", "energy", "ArcaGrid", 1, "borealis", "arcanet", "borealis", "arcanet", ""),
		s("gas-transport", "Gas transport operator", "energy", "ArcaGas", 2, "arcatel", "cathaydns", "skyline", "dravia", "skyline"),
		s("water-utility", "National water utility", "energy", "ArcaWater", 1, "arcatel", "arcanet", "arcatrust", "arcanet", "", Drift),
		s("nuclear-safety", "Nuclear safety authority", "energy", "NSA Arcadia", 1, "arcanet", "arcanet", "arcatrust", "arcanet", "", HomeOnly),
		s("energy-regulator", "Energy regulator", "energy", "ERA", 3, "dravia", "dravia", "dravia", "dravia", ""),
		s("heat-network", "District heating", "energy", "ArcaHeat", 3, "arcatel", "arcatel", "arcatrust", "arcatel", "skyline", Flapping),
		s("power-outages", "Power outage map", "energy", "ArcaGrid", 2, "borealis", "borealis", "borealis", "arcanet", ""),

		s("central-bank", "Central bank", "finance", "Bank of Arcadia", 1, "arcanet", "arcanet", "arcatrust", "arcanet", ""),
		s("payments", "Instant payments API", "finance", "Bank of Arcadia", 1, "arcanet", "arcatel", "arcatrust", "arcanet", ""),
		s("stock-exchange", "Stock exchange", "finance", "Arcadia Exchange", 1, "dravia", "cathaydns", "dravia", "dravia", "skyline"),
		s("card-switch", "Card switch", "finance", "ArcaCard", 1, "borealis", "borealis", "borealis", "borealis", "", Slow),
		s("fin-regulator", "Financial regulator", "finance", "FSA", 2, "arcatel", "arcanet", "arcatrust", "arcanet", ""),
		s("tax-refunds", "Tax refunds", "finance", "Treasury", 2, "dravia", "dravia", "dravia", "dravia", "", Expiring),
		s("pension-fund", "Public pension fund", "finance", "ArcaPension", 2, "arcanet", "cathaydns", "skyline", "dravia", "skyline"),
		s("bank-eid", "Bank e-ID", "finance", "BankID Arcadia", 1, "borealis", "arcanet", "borealis", "arcanet", ""),

		s("gov-portal", "Citizen portal", "government", "Digital Agency", 1, "arcanet", "arcanet", "arcatrust", "arcanet", ""),
		s("e-id", "National e-ID", "government", "Digital Agency", 1, "arcanet", "arcatel", "arcatrust", "arcanet", ""),
		s("tax-office", "Tax office", "government", "Treasury", 2, "dravia", "cathaydns", "dravia", "dravia", "skyline"),
		s("elections", "Election results", "government", "Election Board", 1, "skyline", "cathaydns", "skyline", "dravia", "skyline"),
		s("health-records", "Health records", "government", "Health Ministry", 1, "arcatel", "arcatel", "arcatrust", "arcatel", ""),
		s("emergency-alerts", "Emergency alerts", "government", "Civil Protection", 1, "arcanet", "arcanet", "arcatrust", "arcanet", ""),
		s("customs", "Customs declarations", "government", "Customs", 2, "borealis", "borealis", "borealis", "borealis", ""),
		s("open-data", "Open data portal", "government", "Digital Agency", 3, "dravia", "dravia", "dravia", "dravia", "skyline"),
	}
}

// Zone is the national zone of Arcadia.
const Zone = "arcadia.test"

// ProviderByID returns the provider with that id.
func ProviderByID(id string) (Provider, bool) {
	for _, p := range Providers() {
		if p.ID == id {
			return p, true
		}
	}
	return Provider{}, false
}

// providerAddr is host number n of subnet sub of the provider's /16.
func providerAddr(id string, sub, n int) netip.Addr {
	p, _ := ProviderByID(id)
	b := netip.MustParsePrefix(p.Net).Addr().As4()
	return netip.AddrFrom4([4]byte{b[0], b[1], byte(sub), byte(n)})
}

// ServiceCount is the number of services in the demo world.
func ServiceCount() int { return len(services()) }
