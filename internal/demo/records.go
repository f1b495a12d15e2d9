// The world's DNS records: the providers' name servers and mail hosts,
// and each service's zone at its DNS provider.

package demo

import (
	"fmt"
)

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
