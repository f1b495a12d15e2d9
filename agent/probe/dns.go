package probe

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ProbeDNS sends one query to the target's resolver (else the agent's) and
// records blackbox_exporter's series of a DNS probe under its names:
// probe_dns_duration_seconds{phase=resolve|connect|request},
// probe_dns_query_succeeded, probe_dns_answer_rrs, probe_dns_authority_rrs,
// probe_dns_additional_rrs, probe_dns_serial (SOA queries) and, when the
// resolver is given as an address, probe_dns_lookup_time_seconds (0: nothing
// to look up), probe_ip_protocol and probe_ip_addr_hash. Its own:
// probe_dns_rcode and, with dnssec, probe_dns_ad and
// probe_dns_rrsig_expiry_timestamp_seconds (the earliest).
// A truncated UDP answer is retried over TCP; an answer is at most 64 KiB.
func ProbeDNS(ctx context.Context, p *Prepared, env *Env, r *Recorder) error {
	t := p.Target
	server := t.DNS.Resolver
	if server == "" {
		var err error
		if server, err = env.dnsServer(); err != nil {
			return err
		}
	}
	name := t.DNS.Name
	if name == "" {
		name = t.Hostname()
	}
	if err := env.checkZone(ctx, name); err != nil {
		return err
	}
	qtype, answerRE := p.qtype, p.answerRE
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, t.DNS.DNSSEC)
	if t.DNS.DNSSEC {
		m.AuthenticatedData = true
	}
	r.Set("probe_dns_duration_seconds", 0, "phase", "resolve") // the resolver is dialled as given
	if host, _, err := net.SplitHostPort(server); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			recordAddr(r, ip, 0)
		}
	}
	start := time.Now()
	resp, rtt, err := exchange(ctx, env, m, server)
	// As blackbox_exporter: connect is the time outside the exchanges' round trips.
	r.Set("probe_dns_duration_seconds", max(time.Since(start)-rtt, 0).Seconds(), "phase", "connect")
	r.Set("probe_dns_duration_seconds", rtt.Seconds(), "phase", "request")
	r.Set("probe_dns_query_succeeded", b2f(err == nil))
	if err != nil {
		return fmt.Errorf("query %s %s at %s: %w", dns.TypeToString[qtype], name, server, err)
	}
	r.Set("probe_dns_rcode", float64(resp.Rcode))
	r.Set("probe_dns_answer_rrs", float64(len(resp.Answer)))
	r.Set("probe_dns_authority_rrs", float64(len(resp.Ns)))
	r.Set("probe_dns_additional_rrs", float64(len(resp.Extra)))
	if qtype == dns.TypeSOA {
		for _, rr := range resp.Answer {
			if soa, ok := rr.(*dns.SOA); ok {
				r.Set("probe_dns_serial", float64(soa.Serial))
				break
			}
		}
	}
	if t.DNS.DNSSEC {
		r.Set("probe_dns_ad", b2f(resp.AuthenticatedData))
		earliest := int64(math.MaxInt64)
		for _, rr := range resp.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok {
				earliest = min(earliest, sigExpiry(sig.Expiration, time.Now()))
			}
		}
		if earliest != math.MaxInt64 {
			r.Set("probe_dns_rrsig_expiry_timestamp_seconds", float64(earliest))
		}
	}
	valid := t.DNS.ValidRcodes
	if len(valid) == 0 {
		valid = []string{"NOERROR"}
	}
	if !slices.ContainsFunc(valid, func(s string) bool { return strings.EqualFold(s, dns.RcodeToString[resp.Rcode]) }) {
		return fail("rcode", "rcode %s for %s %s", dns.RcodeToString[resp.Rcode], dns.TypeToString[qtype], name)
	}
	if answerRE != nil && !slices.ContainsFunc(resp.Answer, func(rr dns.RR) bool { return answerRE.MatchString(rr.String()) }) {
		return fail("answer_mismatch", "no answer to %s %s matches %q", dns.TypeToString[qtype], name, t.DNS.AnswerRegex)
	}
	if t.DNS.RequireAD && !resp.AuthenticatedData {
		return fail("dnssec", "answer for %s is not authenticated (AD bit clear)", name)
	}
	return nil
}

// exchange queries over UDP from env's source address, then over TCP when
// the answer is truncated; rtt is the sum of the exchanges' round trips.
func exchange(ctx context.Context, env *Env, m *dns.Msg, server string) (resp *dns.Msg, rtt time.Duration, err error) {
	c := &dns.Client{Net: "udp", UDPSize: 4096}
	if env.SourceAddr.IsValid() {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: env.SourceAddr.AsSlice()}}
	}
	if env.Cut != nil {
		c.Dialer = env.guardDialer(cmp.Or(c.Dialer, &net.Dialer{Timeout: 2 * time.Second}))
	}
	resp, rtt, err = c.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		if env.SourceAddr.IsValid() {
			c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: env.SourceAddr.AsSlice()}}
		}
		if env.Cut != nil {
			c.Dialer = env.guardDialer(cmp.Or(c.Dialer, &net.Dialer{Timeout: 2 * time.Second}))
		}
		var more time.Duration
		resp, more, err = c.ExchangeContext(ctx, m, server)
		rtt += more
	}
	return resp, rtt, err
}

// sigExpiry turns a 32-bit serial-number RRSIG expiration into Unix
// seconds, taking the wrap-around into account (RFC 4034, 3.1.5).
func sigExpiry(exp uint32, now time.Time) int64 {
	mod := int64(1) << 32
	n := now.Unix()
	base := n - n%mod
	t := base + int64(exp)
	if t < n-mod/2 {
		t += mod
	}
	return t
}
