package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"time"
)

// maxLine bounds what an expect step reads of one line.
const maxLine = 4096

// ProbeTCP connects (optionally with TLS) and runs the target's send and
// expect steps, such as an SMTP banner check. It records the connect and
// TLS phases, and the TLS certificate expiry when TLS is used.
func ProbeTCP(ctx context.Context, p *Prepared, env *Env, r *Recorder) error {
	t := p.Target
	addr := t.TCP.Address
	if addr == "" {
		addr = t.Host
	}
	start := time.Now()
	conn, err := env.dial(ctx, addr)
	r.Set("probe_duration_seconds", time.Since(start).Seconds(), "phase", "connect")
	if err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if t.TCP.TLS {
		host, _, _ := net.SplitHostPort(addr)
		tc := tls.Client(conn, &tls.Config{ServerName: host, RootCAs: env.RootCAs})
		start = time.Now()
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		r.Set("probe_duration_seconds", time.Since(start).Seconds(), "phase", "tls")
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			r.Set("probe_tls_cert_expiry_timestamp_seconds", float64(earliestExpiry(certs).Unix()))
		}
		conn = tc
	}
	rd := bufio.NewReaderSize(conn, maxLine)
	for i, st := range t.TCP.Steps {
		if st.Send != "" {
			if _, err := conn.Write([]byte(st.Send + "\r\n")); err != nil {
				return fmt.Errorf("step %d: send: %w", i, err)
			}
			continue
		}
		if err := expectLine(rd, p.expect[i]); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	return nil
}

// expectLine reads lines until one matches re; a line longer than maxLine
// or the end of the stream fails.
func expectLine(rd *bufio.Reader, re *regexp.Regexp) error {
	for {
		line, isPrefix, err := rd.ReadLine()
		if err != nil {
			return fail("expect", "no line matched %q: %w", re, err)
		}
		if isPrefix {
			return fail("expect", "line longer than %d bytes while expecting %q", maxLine, re)
		}
		if re.Match(line) {
			return nil
		}
	}
}
