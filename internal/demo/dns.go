package demo

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// DNSServer answers for the demo world's names on one loopback port over
// UDP and TCP, following CNAME chains like a resolver would.
type DNSServer struct {
	Addr string // "127.0.0.1:port"

	mu      sync.RWMutex
	records map[string][]dns.RR // by lower-case FQDN
	failing map[string]bool     // names whose authoritative servers are down
	servers []*dns.Server
}

// Fail makes address queries for name answer SERVFAIL (on) or normally
// (off), as when the DNS provider hosting it is down; its delegation (NS)
// still answers, as the parent zone's would.
func (s *DNSServer) Fail(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing == nil {
		s.failing = map[string]bool{}
	}
	s.failing[dns.CanonicalName(name)] = on
}

// NewDNSServer starts a server on 127.0.0.1 with a free port.
func NewDNSServer() (*DNSServer, error) { return NewDNSServerAt("127.0.0.1") }

// NewDNSServerAt starts a server on host (an address of this network
// namespace) with a free port.
func NewDNSServerAt(host string) (*DNSServer, error) {
	s := &DNSServer{records: map[string][]dns.RR{}}
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("dns: listen udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		s.Addr = pc.LocalAddr().String()
		mux := dns.HandlerFunc(s.serve)
		s.servers = []*dns.Server{{PacketConn: pc, Handler: mux}, {Listener: ln, Handler: mux}}
		for _, srv := range s.servers {
			go srv.ActivateAndServe()
		}
		return s, nil
	}
	return nil, fmt.Errorf("dns: no port free for both udp and tcp: %w", lastErr)
}

// Close stops the server.
func (s *DNSServer) Close() {
	for _, srv := range s.servers {
		srv.Shutdown()
	}
}

// Set replaces the records of name and type with rrs given in zone-file
// syntax, such as "portal.arcadia.test. 60 IN A 127.1.0.1".
func (s *DNSServer) Set(name string, typ uint16, rrs ...string) error {
	name = dns.CanonicalName(name)
	parsed := make([]dns.RR, 0, len(rrs))
	for _, r := range rrs {
		rr, err := dns.NewRR(r)
		if err != nil {
			return fmt.Errorf("dns: record %q: %w", r, err)
		}
		parsed = append(parsed, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.records[name][:0:0]
	for _, rr := range s.records[name] {
		if rr.Header().Rrtype != typ {
			kept = append(kept, rr)
		}
	}
	s.records[name] = append(kept, parsed...)
	return nil
}

func (s *DNSServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.failing[name] && q.Qtype != dns.TypeNS {
		m.Rcode = dns.RcodeServerFailure
		w.WriteMsg(m)
		return
	}
	for hops := 0; hops < 8; hops++ {
		rrs, known := s.records[name]
		if !known {
			if hops == 0 {
				m.Rcode = dns.RcodeNameError
			}
			break
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, dns.Copy(rr))
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if len(m.Answer) > 0 && m.Answer[len(m.Answer)-1].Header().Rrtype == q.Qtype || cname == nil {
			break
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		name = strings.ToLower(cname.Target)
	}
	w.WriteMsg(m)
}
