// Package demo builds the demo world: a small fictional nation, Arcadia,
// whose critical services run on loopback with their own DNS server,
// certificate authorities of several countries, a generated IP database,
// and the faults an operator must see (flapping, slow, expiring certificate,
// home-only, DNS moving abroad). The demo and the tests share it.
package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	Flapping Trait = "flapping" // down every other 20 seconds
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

// Options configure Start.
type Options struct {
	// Dir receives the CA bundle and the IP databases; required.
	Dir string
	// DriftAfter is when the drifting service's DNS moves to Cathay DNS
	// (default 2 minutes; negative: never).
	DriftAfter time.Duration
	// OutageAfter is when Cathay DNS, the foreign provider several services
	// share, goes down, for OutageFor (0: to the end); 0 or negative: never.
	OutageAfter, OutageFor time.Duration
	Logger                 *slog.Logger
}

// World is a running demo world.
type World struct {
	DNS      *DNSServer
	Services []*Service
	CAs      map[string]*CA
	// Roots trusts every CA of the world; RootsFile holds the same in PEM.
	Roots     *x509.CertPool
	RootsFile string
	// CountryDB and ASNDB are the generated MMDB files (in GeoDir), and
	// CatalogFile the demo's provider catalog.
	CountryDB, ASNDB, GeoDir, CatalogFile string

	logger    *slog.Logger
	dnsOf     map[string]string // service id -> its DNS provider now
	dnsMu     sync.Mutex
	servers   []*http.Server
	drifted   chan struct{}
	stopDrift context.CancelFunc
	wg        sync.WaitGroup
}

// Zone is the national zone of Arcadia.
const Zone = "arcadia.test"

// Start builds and starts the world.
func Start(opts Options) (w *World, err error) {
	if opts.Dir == "" {
		return nil, errors.New("testenv: Options.Dir is required")
	}
	if opts.DriftAfter == 0 {
		opts.DriftAfter = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w = &World{CAs: map[string]*CA{}, Roots: x509.NewCertPool(), logger: opts.Logger, drifted: make(chan struct{}), dnsOf: map[string]string{}}
	started := w // "return nil, err" clears w before this runs
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	var bundle []byte
	for _, c := range caOwners {
		ca, err := NewCA(c.Name, c.Org, c.Country)
		if err != nil {
			return nil, err
		}
		w.CAs[c.Provider] = ca
		w.Roots.AddCert(ca.Cert)
		bundle = append(bundle, ca.PEM()...)
	}
	w.RootsFile = filepath.Join(opts.Dir, "demo-roots.pem")
	if err := os.WriteFile(w.RootsFile, bundle, 0o644); err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	nets := []Network{homeNet, abroadNet}
	for _, p := range Providers() {
		nets = append(nets, Network{CIDR: p.Net, ASN: p.ASN, ASName: p.ASName, Country: p.Country})
	}
	if err := WriteMMDB(opts.Dir, nets); err != nil {
		return nil, err
	}
	w.GeoDir = opts.Dir
	w.CountryDB, w.ASNDB = filepath.Join(opts.Dir, "country.mmdb"), filepath.Join(opts.Dir, "asn.mmdb")
	if w.CatalogFile, err = WriteCatalog(opts.Dir); err != nil {
		return nil, err
	}

	if w.DNS, err = NewDNSServer(); err != nil {
		return nil, err
	}
	if err := w.providerRecords(); err != nil {
		return nil, err
	}
	w.Services = services()
	next := map[string]int{}
	for _, s := range w.Services {
		edge := s.Hosting
		if s.CDN != "" {
			edge = s.CDN
		}
		next[edge]++
		s.Addr = netip.AddrPortFrom(providerAddr(edge, 0, next[edge]), 0)
		s.Host = s.ID + "." + Zone
		if err := w.serve(s); err != nil {
			return nil, err
		}
		if err := w.serviceRecords(s, s.DNS); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stopDrift = cancel
	if opts.DriftAfter > 0 {
		w.wg.Go(func() {
			select {
			case <-time.After(opts.DriftAfter):
				w.DriftNow()
			case <-ctx.Done():
			}
		})
	}
	if opts.OutageAfter > 0 {
		w.wg.Go(func() {
			select {
			case <-time.After(opts.OutageAfter):
				w.ProviderOutage("cathaydns", true)
			case <-ctx.Done():
				return
			}
			if opts.OutageFor <= 0 {
				return
			}
			select {
			case <-time.After(opts.OutageFor):
				w.ProviderOutage("cathaydns", false)
			case <-ctx.Done():
			}
		})
	}
	return w, nil
}

// DriftNow moves the DNS of every service with the Drift trait to Cathay DNS.
func (w *World) DriftNow() {
	select {
	case <-w.drifted:
		return
	default:
	}
	for _, s := range w.Services {
		if s.Has(Drift) {
			if err := w.serviceRecords(s, "cathaydns"); err != nil {
				w.logger.Error("drift", "service", s.ID, "err", err)
			}
			w.logger.Info("demo: DNS of a service moved abroad", "service", s.ID, "to", "Cathay DNS (XC)")
		}
	}
	close(w.drifted)
}

// MoveDNS moves the DNS of service id to the DNS provider dnsP: a failover,
// as a playbook would make one during an outage or a drill.
func (w *World) MoveDNS(id, dnsP string) error {
	for _, s := range w.Services {
		if s.ID == id {
			return w.serviceRecords(s, dnsP)
		}
	}
	return fmt.Errorf("testenv: no service %q", id)
}

// ProviderOutage takes the DNS provider id down (on) or back up: the names
// of every service whose DNS it hosts stop resolving.
func (w *World) ProviderOutage(id string, on bool) {
	w.dnsMu.Lock()
	defer w.dnsMu.Unlock()
	n := 0
	for _, s := range w.Services {
		if w.dnsOf[s.ID] == id {
			w.DNS.Fail(s.Host+".", on)
			n++
		}
	}
	p, _ := ProviderByID(id)
	if on {
		w.logger.Info("demo: a shared foreign DNS provider is down", "provider", p.Name, "country", p.Country, "services", n)
	} else {
		w.logger.Info("demo: the DNS provider is back", "provider", p.Name)
	}
}

// Drifted is closed once the drift has happened.
func (w *World) Drifted() <-chan struct{} { return w.drifted }

// Close stops every server of the world.
func (w *World) Close() {
	if w.stopDrift != nil {
		w.stopDrift()
	}
	for _, s := range w.servers {
		s.Close()
	}
	if w.DNS != nil {
		w.DNS.Close()
	}
	w.wg.Wait()
}

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

// LongTailNS is a name server no catalog names, which resolves (in the
// world's DNS only) into Dravia Cloud's network: attributable by address
// alone, once an agent has resolved it.
const LongTailNS = "ns1.longtail-dns.test"

func (w *World) providerRecords() error {
	if err := w.DNS.Set(LongTailNS+".", 1, fmt.Sprintf("%s. 3600 IN A %s", LongTailNS, providerAddr("dravia", 53, 9))); err != nil {
		return err
	}
	for _, p := range Providers() {
		for i, ns := range []string{"ns1", "ns2"} {
			host := ns + "." + p.Domain + "."
			if err := w.DNS.Set(host, 1, fmt.Sprintf("%s 3600 IN A %s", host, providerAddr(p.ID, 53, i+1))); err != nil {
				return err
			}
		}
		mx := "mx." + p.Domain + "."
		if err := w.DNS.Set(mx, 1, fmt.Sprintf("%s 3600 IN A %s", mx, providerAddr(p.ID, 25, 1))); err != nil {
			return err
		}
	}
	return nil
}

// serviceRecords writes the zone of s with its DNS at provider dnsP.
func (w *World) serviceRecords(s *Service, dnsP string) error {
	w.dnsMu.Lock()
	w.dnsOf[s.ID] = dnsP
	w.dnsMu.Unlock()
	host := s.Host + "."
	p, _ := ProviderByID(dnsP)
	mail, _ := ProviderByID(s.Mail)
	if err := w.DNS.Set(host, 2, // NS
		fmt.Sprintf("%s 3600 IN NS ns1.%s.", host, p.Domain),
		fmt.Sprintf("%s 3600 IN NS ns2.%s.", host, p.Domain)); err != nil {
		return err
	}
	if err := w.DNS.Set(host, 15, fmt.Sprintf("%s 3600 IN MX 10 mx.%s.", host, mail.Domain)); err != nil {
		return err
	}
	ip := s.Addr.Addr().String()
	if s.CDN != "" {
		cdn, _ := ProviderByID(s.CDN)
		edge := s.ID + ".edge." + cdn.Domain + "."
		if err := w.DNS.Set(edge, 1, fmt.Sprintf("%s 60 IN A %s", edge, ip)); err != nil {
			return err
		}
		return w.DNS.Set(host, 5, fmt.Sprintf("%s 300 IN CNAME %s", host, edge))
	}
	return w.DNS.Set(host, 1, fmt.Sprintf("%s 300 IN A %s", host, ip))
}

// serve starts the HTTPS server of s on its address with a free port.
func (w *World) serve(s *Service) error {
	ca := w.CAs[s.CA]
	if ca == nil {
		return fmt.Errorf("testenv: service %s: unknown CA %q", s.ID, s.CA)
	}
	notAfter := time.Now().AddDate(1, 0, 0)
	if s.Has(Expiring) {
		notAfter = time.Now().Add(5 * 24 * time.Hour)
	}
	cert, err := ca.Issue(notAfter, s.ID+"."+Zone)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(s.Addr.Addr().String(), "0"))
	if err != nil {
		return fmt.Errorf("testenv: service %s: %w", s.ID, err)
	}
	s.Addr = netip.MustParseAddrPort(ln.Addr().String())
	s.URL = fmt.Sprintf("https://%s:%d/", s.Host, s.Addr.Port())
	if s.Has(HomeOnly) {
		ln = &homeOnlyListener{Listener: ln, home: netip.MustParsePrefix(homeNet.CIDR)}
	}
	srv := &http.Server{
		Handler:           w.handler(s),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	w.servers = append(w.servers, srv)
	go srv.ServeTLS(ln, "", "")
	return nil
}

func (w *World) handler(s *Service) http.Handler {
	page := landingPage(s)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if s.Has(Flapping) && time.Now().Unix()/20%2 == 1 {
			http.Error(rw, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		if s.Has(Slow) {
			select {
			case <-time.After(SlowDelay):
			case <-r.Context().Done():
				return
			}
		}
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Write(page)
	})
}

// landingPage is a small HTML page whose subresources reveal third parties.
func landingPage(s *Service) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html><head><title>%s</title>\n", html.EscapeString(s.Name))
	fmt.Fprintf(&b, "<link rel=\"stylesheet\" href=\"/static/site.css\">\n")
	if s.CDN != "" {
		cdn, _ := ProviderByID(s.CDN)
		fmt.Fprintf(&b, "<script src=\"https://static.%s/lib/app.js\"></script>\n", cdn.Domain)
	}
	if s.Sector == "government" {
		fmt.Fprintf(&b, "<script src=\"https://analytics.draviacloud.test/tag.js\"></script>\n")
	}
	fmt.Fprintf(&b, "</head><body><h1>%s</h1><p>Operated by %s.</p></body></html>\n",
		html.EscapeString(s.Name), html.EscapeString(s.Operator))
	return []byte(b.String())
}

// homeOnlyListener drops connections that do not come from Arcadian addresses.
type homeOnlyListener struct {
	net.Listener
	home netip.Prefix
}

func (l *homeOnlyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, perr := netip.ParseAddrPort(c.RemoteAddr().String())
		if perr == nil && l.home.Contains(ap.Addr()) {
			return c, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset, as a geo-fence firewall would
		}
		c.Close()
	}
}

// ServiceCount is the number of services in the demo world.
func ServiceCount() int { return len(services()) }
