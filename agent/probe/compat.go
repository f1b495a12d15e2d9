package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"hash/fnv"
	"net"
	"net/netip"
	"time"
)

// The series below carry blackbox_exporter's names, types, units and
// labels (prober/utils.go, prober/tls.go, prober/tcp.go of
// prometheus/blackbox_exporter), so that dashboards and rules written for
// it read Bulwark's probes unchanged. compat_test.go pins the list.

// recordAddr records what blackbox_exporter's chooseProtocol does for the
// address a probe resolved: probe_dns_lookup_time_seconds,
// probe_ip_protocol and probe_ip_addr_hash.
func recordAddr(r *Recorder, ip netip.Addr, lookup time.Duration) {
	r.Set("probe_dns_lookup_time_seconds", max(lookup, 0).Seconds())
	r.Set("probe_ip_protocol", ipProtocol(ip))
	r.Set("probe_ip_addr_hash", ipHash(ip))
}

func ipProtocol(ip netip.Addr) float64 {
	if ip.Unmap().Is4() {
		return 4
	}
	return 6
}

// ipHash is FNV-1a (32 bits) of the address's bytes (4 for IPv4, 16 for
// IPv6), the value blackbox_exporter exposes as probe_ip_addr_hash for the
// same address: a changed value means the target moved.
func ipHash(ip netip.Addr) float64 {
	h := fnv.New32a()
	h.Write(ip.Unmap().AsSlice())
	return float64(h.Sum32())
}

// dialTimed resolves addr's host and connects to it from env's source
// address, recording the address series (recordAddr) and the time of the
// resolve and connect phases in durations (probe_tcp_duration_seconds or
// probe_tls_duration_seconds).
func (env *Env) dialTimed(ctx context.Context, addr, durations string, r *Recorder) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fail("config", "address %q: %w", addr, err)
	}
	start := time.Now()
	ip, err := env.resolveOne(ctx, host, "ip4", true)
	lookup := time.Since(start)
	r.Set(durations, lookup.Seconds(), "phase", "resolve")
	if err != nil {
		return nil, err
	}
	recordAddr(r, ip, lookup)
	start = time.Now()
	conn, err := env.dialer().DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
	r.Set(durations, time.Since(start).Seconds(), "phase", "connect")
	return conn, err
}

// recordTLS records what blackbox_exporter's HTTP and TCP probers record
// of a TLS connection: probe_ssl_earliest_cert_expiry (the earliest
// NotAfter the server sent), probe_tls_version_info{version} and, when
// the chain was verified, probe_ssl_last_chain_expiry_timestamp_seconds.
func recordTLS(r *Recorder, version uint16, certs []*x509.Certificate, chains [][]*x509.Certificate) {
	if len(certs) > 0 {
		r.Set("probe_ssl_earliest_cert_expiry", float64(earliestExpiry(certs).Unix()))
	}
	r.Set("probe_tls_version_info", 1, "version", tlsVersion(version))
	if last, ok := lastChainExpiry(chains); ok {
		r.Set("probe_ssl_last_chain_expiry_timestamp_seconds", float64(last.Unix()))
	}
}

// recordTLSState is recordTLS of a connection verified during the handshake.
func recordTLSState(r *Recorder, st *tls.ConnectionState) {
	recordTLS(r, st.Version, st.PeerCertificates, st.VerifiedChains)
}

// lastChainExpiry is when the last of the verified chains stops being
// valid: the latest, over chains, of each chain's earliest NotAfter.
func lastChainExpiry(chains [][]*x509.Certificate) (time.Time, bool) {
	var last time.Time
	for _, chain := range chains {
		if len(chain) == 0 {
			continue
		}
		if e := earliestExpiry(chain); last.IsZero() || e.After(last) {
			last = e
		}
	}
	return last, !last.IsZero()
}

// tlsVersion names a TLS version as blackbox_exporter's
// probe_tls_version_info{version} does.
func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13:
		return tls.VersionName(v)
	}
	return "unknown"
}
