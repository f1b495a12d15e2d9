package probe

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ProbeDNS sends one query to the target's resolver (else the agent's) and
// records probe_dns_rcode, probe_dns_answer_rrs, probe_dns_authority_rrs,
// probe_dns_additional_rrs, probe_dns_lookup_time_seconds and, with dnssec,
// probe_dns_ad and probe_dns_rrsig_expiry_timestamp_seconds (the earliest).
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
	start := time.Now()
	resp, err := exchange(ctx, env, m, server)
	r.Set("probe_dns_lookup_time_seconds", time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("query %s %s at %s: %w", dns.TypeToString[qtype], name, server, err)
	}
	r.Set("probe_dns_rcode", float64(resp.Rcode))
	r.Set("probe_dns_answer_rrs", float64(len(resp.Answer)))
	r.Set("probe_dns_authority_rrs", float64(len(resp.Ns)))
	r.Set("probe_dns_additional_rrs", float64(len(resp.Extra)))
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
// the answer is truncated.
func exchange(ctx context.Context, env *Env, m *dns.Msg, server string) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", UDPSize: 4096}
	if env.SourceAddr.IsValid() {
		c.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: env.SourceAddr.AsSlice()}}
	}
	if env.Cut != nil {
		c.Dialer = env.guardDialer(cmp.Or(c.Dialer, &net.Dialer{Timeout: 2 * time.Second}))
	}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		if env.SourceAddr.IsValid() {
			c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: env.SourceAddr.AsSlice()}}
		}
		if env.Cut != nil {
			c.Dialer = env.guardDialer(cmp.Or(c.Dialer, &net.Dialer{Timeout: 2 * time.Second}))
		}
		resp, _, err = c.ExchangeContext(ctx, m, server)
	}
	return resp, err
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
