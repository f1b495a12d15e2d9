// Package demo builds the demo world: a small fictional nation, Arcadia,
// whose critical services run on loopback with their own DNS server,
// certificate authorities of several countries, a generated IP database,
// and the faults an operator must see (flapping, slow, expiring certificate,
// home-only, DNS moving abroad). The demo and the tests share it.
package demo

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

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
	// Begin, when set, starts the clock of DriftAfter and OutageAfter when
	// it is closed (the demo closes it once its agents report), not at Start.
	Begin <-chan struct{}
	// FlapPeriod is how long the flapping service stays up, then down
	// (default 20 s).
	FlapPeriod time.Duration
	Logger     *slog.Logger
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
	flap      time.Duration
	dnsOf     map[string]string // service id -> its DNS provider now
	dnsMu     sync.Mutex
	servers   []*http.Server
	drifted   chan struct{}
	stopDrift context.CancelFunc
	wg        sync.WaitGroup
}

// Start builds and starts the world.
func Start(opts Options) (w *World, err error) {
	if opts.Dir == "" {
		return nil, errors.New("testenv: Options.Dir is required")
	}
	if opts.DriftAfter == 0 {
		opts.DriftAfter = 2 * time.Minute
	}
	if opts.FlapPeriod <= 0 {
		opts.FlapPeriod = 20 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w = &World{CAs: map[string]*CA{}, Roots: x509.NewCertPool(), logger: opts.Logger, flap: opts.FlapPeriod,
		drifted: make(chan struct{}), dnsOf: map[string]string{}}
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
	begin := opts.Begin
	if begin == nil {
		now := make(chan struct{})
		close(now)
		begin = now
	}
	// after waits for the clock to begin, then d; false when the world closes first.
	after := func(d time.Duration) bool {
		select {
		case <-begin:
		case <-ctx.Done():
			return false
		}
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	}
	if opts.DriftAfter > 0 {
		w.wg.Go(func() {
			if after(opts.DriftAfter) {
				w.DriftNow()
			}
		})
	}
	if opts.OutageAfter > 0 {
		w.wg.Go(func() {
			if !after(opts.OutageAfter) {
				return
			}
			w.ProviderOutage("cathaydns", true)
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
