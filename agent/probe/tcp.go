package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"time"
)

// maxLine bounds what an expect step reads of one line.
const maxLine = 4096

// errLongLine is why an expect step failed on a line longer than maxLine.
var errLongLine = errors.New("line longer than the limit")

// ProbeTCP connects (optionally with TLS) and runs the target's send and
// expect steps, such as an SMTP banner check. Beside blackbox_exporter's
// series of a TCP probe (probe_dns_lookup_time_seconds, probe_ip_protocol,
// probe_ip_addr_hash, probe_failed_due_to_regex and, with TLS,
// probe_ssl_earliest_cert_expiry, probe_tls_version_info{version},
// probe_ssl_last_chain_expiry_timestamp_seconds) it records the time of
// each phase in probe_tcp_duration_seconds{phase=resolve|connect|tls}.
func ProbeTCP(ctx context.Context, p *Prepared, env *Env, r *Recorder) error {
	t := p.Target
	addr := t.TCP.Address
	if addr == "" {
		addr = t.Host
	}
	// As blackbox_exporter: 1 when no line matched, not when reading failed.
	noMatch := false
	defer func() { r.Set("probe_failed_due_to_regex", b2f(noMatch)) }()
	conn, err := env.dialTimed(ctx, addr, "probe_tcp_duration_seconds", r)
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
		start := time.Now()
		err := tc.HandshakeContext(ctx)
		r.Set("probe_tcp_duration_seconds", time.Since(start).Seconds(), "phase", "tls")
		if err != nil {
			return fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		st := tc.ConnectionState()
		recordTLSState(r, &st)
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
			noMatch = errors.Is(err, io.EOF) || errors.Is(err, errLongLine)
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
			return fail("expect", "%w of %d bytes while expecting %q", errLongLine, maxLine, re)
		}
		if re.Match(line) {
			return nil
		}
	}
}
