package probe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/miekg/dns"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Bounds on what one dependency observation may record, so a hostile
// zone or page cannot flood the agent or the collector.
const (
	maxAddrsPerName = 16
	maxNames        = 16
	maxPageBytes    = 2 << 20
)

// ProbeDeps observes, raw and unattributed, what the target depends on,
// as probe_dependency_info{layer, kind, name, addr, ...} 1 series:
//
//	layer="hosting" kind="a"|"aaaa"|"cname"   its addresses and CNAME chain
//	layer="dns"     kind="ns"                   the zone's name servers and their addresses
//	layer="mail"    kind="mx"                   mail hosts and their addresses
//	layer="ca"      kind="ca"                   each CA certificate served (organization, country, sha256)
//	layer="subresource" kind="script"|"link"|"img"|"iframe"|"form"   third-party hosts of the landing page
//
// The collector attributes them to providers and jurisdictions.
// probe_dependency_truncated is 1 when a bound cut an answer short.
func ProbeDeps(ctx context.Context, p *Prepared, env *Env, r *Recorder) error {
	t := p.Target
	host := t.Hostname()
	if host == "" {
		return fail("config", "no host to observe")
	}
	server, err := env.dnsServer()
	if err != nil {
		return err
	}
	o := &observer{ctx: ctx, env: env, server: server, r: r}
	if ip, err := netip.ParseAddr(host); err == nil {
		o.dep("hosting", map[bool]string{true: "a", false: "aaaa"}[ip.Is4()], host, ip.String())
	} else {
		o.dnsLayers(host)
	}
	// CA and subresources, for https and http URLs.
	if strings.HasPrefix(t.URL, "https://") {
		if err := o.caChain(t); err != nil {
			env.logger().Debug("deps: tls", "target", t.ID, "err", err)
		}
	}
	if t.URL != "" {
		if err := o.page(t); err != nil {
			env.logger().Debug("deps: page", "target", t.ID, "err", err)
		}
	}
	r.Set("probe_dependency_truncated", b2f(o.truncated))
	if o.err != nil {
		return fmt.Errorf("observe %s: %w", host, o.err)
	}
	return nil
}

// dnsLayers records the CNAME chain and addresses, the zone's name servers
// and its mail hosts. A failed lookup is remembered and the rest goes on.
func (o *observer) dnsLayers(host string) {
	name := dns.Fqdn(host)
	for i := 0; i < 8; i++ {
		ans := o.query(name, dns.TypeCNAME)
		var next string
		for _, rr := range ans {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
				next = c.Target
			}
		}
		if next == "" {
			break
		}
		o.dep("hosting", "cname", trimDot(next), "", "position", fmt.Sprint(i))
		name = next
	}
	for _, a := range o.addrs(name) {
		kind := "a"
		if strings.Contains(a, ":") {
			kind = "aaaa"
		}
		o.dep("hosting", kind, trimDot(name), a)
	}
	zone, nss := o.zoneNS(dns.Fqdn(host))
	for _, ns := range nss {
		addrs := o.addrs(ns)
		if len(addrs) == 0 {
			o.dep("dns", "ns", trimDot(ns), "", "zone", trimDot(zone))
		}
		for _, a := range addrs {
			o.dep("dns", "ns", trimDot(ns), a, "zone", trimDot(zone))
		}
	}
	if zone == "" {
		return
	}
	n := 0
	for _, rr := range o.query(zone, dns.TypeMX) {
		m, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		if n++; n > maxNames {
			o.truncated = true
			break
		}
		addrs := o.addrs(m.Mx)
		if len(addrs) == 0 {
			o.dep("mail", "mx", trimDot(m.Mx), "")
		}
		for _, a := range addrs {
			o.dep("mail", "mx", trimDot(m.Mx), a)
		}
	}
}

type observer struct {
	ctx       context.Context
	env       *Env
	server    string
	r         *Recorder
	truncated bool
	err       error // the first failed lookup
}

func (o *observer) dep(layer, kind, name, addr string, extra ...string) {
	o.r.Set("probe_dependency_info", 1, append([]string{"addr", addr, "kind", kind, "layer", layer, "name", name}, extra...)...)
}

// query returns the answer records; a failure is remembered in o.err.
func (o *observer) query(name string, qtype uint16) []dns.RR {
	if o.err != nil && o.ctx.Err() != nil {
		return nil
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, false)
	resp, _, err := exchange(o.ctx, o.env, m, o.server)
	if err != nil {
		if o.err == nil {
			o.err = fmt.Errorf("query %s %s: %w", dns.TypeToString[qtype], name, err)
		}
		return nil
	}
	return resp.Answer
}

// addrs returns up to maxAddrsPerName A and AAAA addresses of name.
func (o *observer) addrs(name string) []string {
	var out []string
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, rr := range o.query(dns.Fqdn(name), qt) {
			var ip net.IP
			switch v := rr.(type) {
			case *dns.A:
				ip = v.A
			case *dns.AAAA:
				ip = v.AAAA
			default:
				continue
			}
			if len(out) >= maxAddrsPerName {
				o.truncated = true
				return out
			}
			out = append(out, ip.String())
		}
	}
	return out
}

// zoneNS walks up from name to the first that has NS records.
func (o *observer) zoneNS(name string) (string, []string) {
	labels := dns.SplitDomainName(name)
	for i := range labels {
		zone := dns.Fqdn(strings.Join(labels[i:], "."))
		ans := o.query(zone, dns.TypeNS)
		var nss []string
		for _, rr := range ans {
			if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) {
				if len(nss) >= maxNames {
					o.truncated = true
					break
				}
				nss = append(nss, ns.Ns)
			}
		}
		if len(nss) > 0 {
			return zone, nss
		}
	}
	return "", nil
}

func (o *observer) caChain(t *target.Target) error {
	conn, err := o.env.dial(o.ctx, tlsAddress(t))
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := o.ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	tc := tls.Client(conn, &tls.Config{ServerName: t.Hostname(), InsecureSkipVerify: true})
	if err := tc.HandshakeContext(o.ctx); err != nil {
		return err
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	leaf := certs[0]
	first := func(s []string) string {
		if len(s) > 0 {
			return s[0]
		}
		return ""
	}
	// The leaf's issuer, even when the server does not send the CA itself,
	// with the key id of the root its served chain leads to: the collector
	// attributes an issuing CA it does not know through that root.
	o.dep("ca", "issuer", leaf.Issuer.CommonName, "", "organization", first(leaf.Issuer.Organization),
		"country", first(leaf.Issuer.Country), "sha256", "", "position", "0", "anchor_key_id", anchorKeyID(certs))
	for i, c := range certs[1:] {
		if i >= maxNames {
			o.truncated = true
			break
		}
		sum := sha256.Sum256(c.Raw)
		o.dep("ca", "ca", c.Subject.CommonName, "", "organization", first(c.Subject.Organization),
			"country", first(c.Subject.Country), "sha256", hex.EncodeToString(sum[:]), "position", fmt.Sprint(i+1))
	}
	return nil
}

// anchorKeyID follows the served chain up from the leaf by authority key
// identifiers and returns, hex, the key id of the certificate it leads to
// but the server did not send (the root), or of a self-signed one it did;
// "" when the leaf names no authority key.
func anchorKeyID(certs []*x509.Certificate) string {
	cur := certs[0]
	for range len(certs) { // bounded: a chain that loops ends here
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) && len(cur.SubjectKeyId) > 0 {
			return hex.EncodeToString(cur.SubjectKeyId) // a root, served
		}
		if len(cur.AuthorityKeyId) == 0 {
			return ""
		}
		var next *x509.Certificate
		for _, c := range certs[1:] {
			if bytes.Equal(c.SubjectKeyId, cur.AuthorityKeyId) {
				next = c
				break
			}
		}
		if next == nil {
			return hex.EncodeToString(cur.AuthorityKeyId)
		}
		cur = next
	}
	return ""
}

func (o *observer) page(t *target.Target) error {
	base, err := url.Parse(t.URL)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives:      true,
			TLSClientConfig:        &tls.Config{RootCAs: o.env.RootCAs},
			MaxResponseHeaderBytes: 64 << 10,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return o.env.dial(ctx, addr)
			},
		},
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) > 3 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(o.ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "Bulwark-Agent/1")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Content-Type"), "html") {
		return nil
	}
	subs, truncated := Subresources(io.LimitReader(resp.Body, maxPageBytes), base)
	o.truncated = o.truncated || truncated
	for _, s := range subs {
		o.dep("subresource", s.Kind, s.Host, "")
	}
	return nil
}

func trimDot(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }
