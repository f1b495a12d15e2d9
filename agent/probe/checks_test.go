package probe

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// has reports whether a metric with that name and label pairs was recorded.
func has(res Result, name string, labels ...string) bool {
	for _, m := range res.Metrics {
		if m.Name == name && strings.Join(m.Labels, ",") == strings.Join(labels, ",") {
			return true
		}
	}
	return false
}

func tlsServer(t *testing.T, ca *demo.CA, notAfter time.Time, names ...string) string {
	t.Helper()
	cert, err := ca.Issue(notAfter, names...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestTLS(t *testing.T) {
	ca, _ := demo.NewCA("Borealis Sign Root", "Borealis Cloud", "XB")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	notAfter := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	addr := tlsServer(t, ca, notAfter, "portal.arcadia.test", "127.0.0.1")

	good := Run(t.Context(), "tls", &target.Target{ID: "x", Host: addr}, &Env{RootCAs: roots})
	if !good.Success {
		t.Fatalf("tls probe failed: %v", good.Err)
	}
	if v := metric(t, good, "probe_tls_cert_expiry_timestamp_seconds"); int64(v) != notAfter.Unix() {
		t.Errorf("expiry %v", v)
	}
	if v := metric(t, good, "probe_tls_cert_days_left"); v < 9.9 || v > 10 {
		t.Errorf("days left %v", v)
	}
	if !has(good, "probe_tls_issuer_info", "common_name", "Borealis Sign Root", "country", "XB", "organization", "Borealis Cloud") {
		t.Errorf("issuer not recorded: %+v", good.Metrics)
	}
	if !has(good, "probe_tls_version_info", "version", "TLS 1.3") || metric(t, good, "probe_tls_ocsp_stapled") != 0 || metric(t, good, "probe_tls_san_match") != 1 {
		t.Errorf("version/ocsp/san: %+v", good.Metrics)
	}

	// A name the certificate does not cover: recorded, and the probe fails.
	wrong := Run(t.Context(), "tls", &target.Target{ID: "x", Host: addr, TLS: target.TLS{ServerName: "elsewhere.test"}}, &Env{RootCAs: roots})
	if wrong.Success || Reason(wrong.Err) != "tls_verify" || metric(t, wrong, "probe_tls_san_match") != 0 {
		t.Errorf("SAN mismatch: %v %+v", wrong.Err, wrong.Metrics)
	}
	// An unknown CA: the chain is recorded unverified, not fatal to the agent.
	untrusted := Run(t.Context(), "tls", &target.Target{ID: "x", Host: addr}, &Env{})
	if untrusted.Success || Reason(untrusted.Err) != "tls_verify" || metric(t, untrusted, "probe_tls_chain_verified") != 0 {
		t.Errorf("untrusted: %v", untrusted.Err)
	}
	if v := metric(t, untrusted, "probe_tls_cert_expiry_timestamp_seconds"); int64(v) != notAfter.Unix() {
		t.Errorf("expiry of an untrusted cert not recorded: %v", v)
	}
	// Expired.
	old := tlsServer(t, ca, time.Now().Add(-time.Minute), "127.0.0.1")
	expired := Run(t.Context(), "tls", &target.Target{ID: "x", Host: old}, &Env{RootCAs: roots})
	if expired.Success || !strings.Contains(expired.Err.Error(), "expired") {
		t.Errorf("expired: %v", expired.Err)
	}
	// Not TLS at all.
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	defer plain.Close()
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH\r\n"))
			c.Close()
		}
	}()
	notTLS := Run(t.Context(), "tls", &target.Target{ID: "x", Host: plain.Addr().String(), Timeout: configfile.Duration(2 * time.Second)}, &Env{})
	if notTLS.Success || Reason(notTLS.Err) != "tls" {
		t.Errorf("plain server: %v (reason %s)", notTLS.Err, Reason(notTLS.Err))
	}
}

func startWorld(t *testing.T) *demo.World {
	t.Helper()
	w, err := demo.Start(demo.Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func TestDNS(t *testing.T) {
	w := startWorld(t)
	env := &Env{Resolver: w.DNS.Addr}
	ok := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "grid-portal.arcadia.test",
		DNS: target.DNS{AnswerRegex: `IN\s+A\s+127\.1\.`}}, env)
	if !ok.Success || metric(t, ok, "probe_dns_answer_rrs") != 1 || metric(t, ok, "probe_dns_rcode") != 0 {
		t.Fatalf("A query: %v %+v", ok.Err, ok.Metrics)
	}
	mismatch := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "grid-portal.arcadia.test",
		DNS: target.DNS{AnswerRegex: `127\.30\.`}}, env)
	if mismatch.Success || Reason(mismatch.Err) != "answer_mismatch" {
		t.Errorf("mismatch: %v", mismatch.Err)
	}
	nx := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "nope.arcadia.test"}, env)
	if nx.Success || Reason(nx.Err) != "rcode" || metric(t, nx, "probe_dns_rcode") != 3 {
		t.Errorf("NXDOMAIN: %v", nx.Err)
	}
	nxOK := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "nope.arcadia.test", DNS: target.DNS{ValidRcodes: []string{"NXDOMAIN"}}}, env)
	if !nxOK.Success {
		t.Errorf("NXDOMAIN listed as valid: %v", nxOK.Err)
	}
	ns := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "payments.arcadia.test", DNS: target.DNS{Type: "NS", AnswerRegex: "arcatel"}}, env)
	if !ns.Success || metric(t, ns, "probe_dns_answer_rrs") != 2 {
		t.Errorf("NS: %v", ns.Err)
	}
	// A per-target resolver overrides the agent's.
	dead := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "grid-portal.arcadia.test", Timeout: configfile.Duration(time.Second),
		DNS: target.DNS{Resolver: "127.0.0.1:1"}}, env)
	if dead.Success {
		t.Error("query to a closed port succeeded")
	}
}

// hostileDNS answers every query with n A records and, with sig, an RRSIG
// and the AD bit.
func hostileDNS(t *testing.T, n int, sig bool) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Compress = true
		for i := range n {
			rr, _ := dns.NewRR(fmt.Sprintf("%s 60 IN A 127.9.%d.%d", req.Question[0].Name, i/250, i%250))
			m.Answer = append(m.Answer, rr)
		}
		if sig {
			m.AuthenticatedData = true
			m.Answer = append(m.Answer, &dns.RRSIG{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 60},
				TypeCovered: dns.TypeA, Algorithm: 13, Expiration: uint32(time.Now().Add(72 * time.Hour).Unix()), Inception: uint32(time.Now().Unix()),
				SignerName: "arcadia.test.", Signature: "AAAA"})
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp && m.Len() > 512 {
			m.Truncate(512)
		}
		w.WriteMsg(m)
	})
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Skip("port clash")
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		go s.ActivateAndServe()
		t.Cleanup(func() { s.Shutdown() })
	}
	return pc.LocalAddr().String()
}

// Thousands of records: the truncated UDP answer is retried over TCP,
// counted, and the probe ends normally.
func TestDNSHugeAnswer(t *testing.T) {
	addr := hostileDNS(t, 3000, false)
	res := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "big.arcadia.test", Timeout: configfile.Duration(5 * time.Second)}, &Env{Resolver: addr})
	if !res.Success || metric(t, res, "probe_dns_answer_rrs") < 1000 {
		t.Fatalf("huge answer: %v %+v", res.Err, res.Metrics)
	}
}

func TestDNSSEC(t *testing.T) {
	addr := hostileDNS(t, 1, true)
	res := Run(t.Context(), "dns", &target.Target{ID: "x", Host: "signed.arcadia.test", DNS: target.DNS{DNSSEC: true, RequireAD: true}}, &Env{Resolver: addr})
	if !res.Success || metric(t, res, "probe_dns_ad") != 1 {
		t.Fatalf("dnssec: %v", res.Err)
	}
	if v := metric(t, res, "probe_dns_rrsig_expiry_timestamp_seconds"); v < float64(time.Now().Add(71*time.Hour).Unix()) {
		t.Errorf("rrsig expiry %v", v)
	}
	unsigned := hostileDNS(t, 1, false)
	res = Run(t.Context(), "dns", &target.Target{ID: "x", Host: "plain.arcadia.test", DNS: target.DNS{DNSSEC: true, RequireAD: true}}, &Env{Resolver: unsigned})
	if res.Success || Reason(res.Err) != "dnssec" {
		t.Errorf("unsigned with require_ad: %v", res.Err)
	}
}

// smtpServer greets, answers EHLO, and sends an endless line when asked.
func smtpServer(t *testing.T) string {
	t.Helper()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("220 mx.arcanet.test ESMTP ready\r\n"))
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					switch {
					case strings.HasPrefix(sc.Text(), "EHLO"):
						c.Write([]byte("250-mx.arcanet.test\r\n250 STARTTLS\r\n"))
					case sc.Text() == "FLOOD":
						for range 10000 {
							if _, err := c.Write([]byte(strings.Repeat("x", 1000))); err != nil {
								return
							}
						}
					case sc.Text() == "QUIT":
						c.Write([]byte("221 bye\r\n"))
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestTCP(t *testing.T) {
	addr := smtpServer(t)
	steps := []target.TCPStep{{Expect: "^220 "}, {Send: "EHLO bulwark"}, {Expect: "^250 STARTTLS"}, {Send: "QUIT"}, {Expect: "^221"}}
	ok := Run(t.Context(), "tcp", &target.Target{ID: "mx", Host: addr, TCP: target.TCP{Steps: steps}}, &Env{})
	if !ok.Success {
		t.Fatalf("smtp conversation: %v", ok.Err)
	}
	wrong := Run(t.Context(), "tcp", &target.Target{ID: "mx", Host: addr, Timeout: configfile.Duration(time.Second),
		TCP: target.TCP{Steps: []target.TCPStep{{Expect: "^554"}}}}, &Env{})
	if wrong.Success || Reason(wrong.Err) != "timeout" && Reason(wrong.Err) != "expect" {
		t.Errorf("unexpected banner: %v (%s)", wrong.Err, Reason(wrong.Err))
	}
	flood := Run(t.Context(), "tcp", &target.Target{ID: "mx", Host: addr, Timeout: configfile.Duration(3 * time.Second),
		TCP: target.TCP{Steps: []target.TCPStep{{Expect: "^220"}, {Send: "FLOOD"}, {Expect: "^250"}}}}, &Env{})
	if flood.Success || Reason(flood.Err) != "expect" || !strings.Contains(flood.Err.Error(), "longer than") {
		t.Errorf("endless line: %v", flood.Err)
	}
	// TLS on top of TCP, against the generated CA.
	ca, _ := demo.NewCA("ArcaTrust Root R1", "ArcaTrust", "XA")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tlsAddr := tlsServer(t, ca, time.Now().Add(time.Hour), "127.0.0.1")
	tlsOK := Run(t.Context(), "tcp", &target.Target{ID: "imaps", Host: tlsAddr, TCP: target.TCP{TLS: true}}, &Env{RootCAs: roots})
	if !tlsOK.Success || metric(t, tlsOK, "probe_ssl_earliest_cert_expiry") == 0 {
		t.Errorf("tcp+tls: %v", tlsOK.Err)
	}
}
