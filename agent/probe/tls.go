package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// tlsAddress is where the TLS probe connects: tls.address, else the URL's
// host and port, else Host (with :443 when it has no port).
func tlsAddress(t *target.Target) string {
	if t.TLS.Address != "" {
		return t.TLS.Address
	}
	if t.URL != "" {
		if u, err := url.Parse(t.URL); err == nil {
			port := u.Port()
			if port == "" {
				port = "443"
			}
			return net.JoinHostPort(u.Hostname(), port)
		}
	}
	if _, _, err := net.SplitHostPort(t.Host); err == nil {
		return t.Host
	}
	return net.JoinHostPort(t.Host, "443")
}

// ProbeTLS completes a handshake and records what the certificate tells,
// under blackbox_exporter's names where it has the series (those of its TCP
// prober with tls: probe_ssl_earliest_cert_expiry,
// probe_ssl_last_chain_expiry_timestamp_seconds, probe_tls_version_info{version},
// probe_dns_lookup_time_seconds, probe_ip_protocol, probe_ip_addr_hash) and
// Bulwark's own: probe_tls_duration_seconds{phase=resolve|connect|tls},
// probe_tls_cert_expiry_timestamp_seconds (leaf), probe_tls_cert_days_left,
// probe_tls_issuer_info{organization,country,common_name},
// probe_tls_san_match, probe_tls_ocsp_stapled, probe_tls_chain_verified,
// probe_tls_chain_length. An invalid certificate is recorded and fails the
// probe; it never stops the agent.
func ProbeTLS(ctx context.Context, p *Prepared, env *Env, r *Recorder) error {
	t := p.Target
	addr := tlsAddress(t)
	host, _, _ := net.SplitHostPort(addr)
	serverName := t.TLS.ServerName
	if serverName == "" {
		serverName = host
	}
	raw, err := env.dialTimed(ctx, addr, "probe_tls_duration_seconds", r)
	if err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	// Verification is done below, so that a bad chain is recorded in
	// detail instead of ending the handshake.
	conn := tls.Client(raw, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	start := time.Now()
	err = conn.HandshakeContext(ctx)
	r.Set("probe_tls_duration_seconds", time.Since(start).Seconds(), "phase", "tls")
	if err != nil {
		return fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	st := conn.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return fail("tls", "%s sent no certificate", addr)
	}
	leaf := st.PeerCertificates[0]
	earliest := earliestExpiry(st.PeerCertificates)
	r.Set("probe_tls_cert_expiry_timestamp_seconds", float64(leaf.NotAfter.Unix()))
	r.Set("probe_tls_cert_days_left", time.Until(earliest).Hours()/24)
	r.Set("probe_tls_chain_length", float64(len(st.PeerCertificates)))
	org, country := "", ""
	if len(leaf.Issuer.Organization) > 0 {
		org = leaf.Issuer.Organization[0]
	}
	if len(leaf.Issuer.Country) > 0 {
		country = leaf.Issuer.Country[0]
	}
	r.Set("probe_tls_issuer_info", 1, "common_name", leaf.Issuer.CommonName, "country", country, "organization", org)
	stapled := 0.0
	if len(st.OCSPResponse) > 0 {
		stapled = 1
	}
	r.Set("probe_tls_ocsp_stapled", stapled)
	sanErr := leaf.VerifyHostname(serverName)
	r.Set("probe_tls_san_match", b2f(sanErr == nil))

	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, verr := leaf.Verify(x509.VerifyOptions{Roots: env.RootCAs, Intermediates: inter, CurrentTime: time.Now()})
	recordTLS(r, st.Version, st.PeerCertificates, chains)
	r.Set("probe_tls_chain_verified", b2f(verr == nil))
	switch {
	case verr != nil:
		return &Failure{Reason: "tls_verify", Err: fmt.Errorf("certificate of %s: %w", addr, verr)}
	case sanErr != nil:
		return &Failure{Reason: "tls_verify", Err: fmt.Errorf("certificate of %s: %w", addr, sanErr)}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
