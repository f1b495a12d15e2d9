package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/internal/target"
)

const defaultMaxRedirects = 10

// bufPool and writerPool hold the read and write buffers of HTTP probes.
var (
	bufPool    = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1024) }}
)

// ProbeHTTP fetches the target URL over a fresh connection per hop and
// records the series of blackbox_exporter's HTTP prober under its names:
// probe_http_duration_seconds{phase=resolve|connect|tls|processing|transfer},
// probe_http_status_code, probe_http_content_length (the Content-Length
// header, -1 when absent), probe_http_uncompressed_body_length (the bytes
// read), probe_http_redirects, probe_http_ssl, probe_http_version,
// probe_http_last_modified_timestamp_seconds, probe_failed_due_to_regex,
// probe_dns_lookup_time_seconds, probe_ip_protocol, probe_ip_addr_hash and,
// over TLS, probe_ssl_earliest_cert_expiry, probe_tls_version_info{version}
// and probe_ssl_last_chain_expiry_timestamp_seconds.
//
// It speaks HTTP/1.1 itself on the connection it dialled (the standard
// library writes the request and parses the response): every phase is
// timed exactly, nothing is pooled or proxied, and no transport goroutines
// run per probe. Bodies are read up to Env.MaxBodyBytes: a longer body
// fails the probe.
func ProbeHTTP(ctx context.Context, p *Prepared, env *Env, r *Recorder) error {
	t := p.Target
	bodyRE := p.bodyRE
	maxRedirects := t.HTTP.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = defaultMaxRedirects
	}
	method := t.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return fail("config", "url: %w", err)
	}
	var ph phases
	defer ph.record(r)
	for hop := 0; ; hop++ {
		serverName := u.Hostname()
		if p.hostHeader != "" && hop == 0 {
			serverName = p.hostHeader // a Host header names the server TLS verifies
		}
		resp, body, err := fetch(ctx, t, env, method, u, serverName, &ph, bodyRE != nil)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
		}
		if loc := resp.Header.Get("Location"); isRedirect(resp.StatusCode) && loc != "" && maxRedirects > 0 {
			if hop >= maxRedirects {
				return fail("redirects", "%s %s: more than %d redirects", method, u.Redacted(), maxRedirects)
			}
			next, err := u.Parse(loc)
			if err != nil {
				return fail("redirects", "bad Location %q: %w", loc, err)
			}
			if resp.StatusCode == http.StatusSeeOther || (resp.StatusCode <= http.StatusFound && method == http.MethodPost) {
				method = http.MethodGet
			}
			u = next
			ph.redirects = hop + 1
			continue
		}
		recordResponse(r, resp)
		limit := env.maxBody()
		r.Set("probe_http_uncompressed_body_length", float64(min(body.n, limit)))
		if body.err != nil {
			return fmt.Errorf("read body: %w", body.err)
		}
		if body.n > limit {
			return fail("body_too_large", "body larger than the limit of %d bytes", limit)
		}
		if !validStatus(t.HTTP.ValidStatusCodes, resp.StatusCode) {
			return fail("status", "status %d is not an expected status", resp.StatusCode)
		}
		if bodyRE != nil && !bodyRE.Match(body.data) {
			ph.regexFailed = true
			return fail("body_mismatch", "body does not match %q", t.HTTP.BodyRegex)
		}
		return nil
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readBody is what was read of a response body.
type readBody struct {
	n    int64
	data []byte // kept only when asked
	err  error
}

// fetch performs one request on a new connection and reads the body.
func fetch(ctx context.Context, t *target.Target, env *Env, method string, u *url.URL, serverName string, ph *phases, keep bool) (*http.Response, readBody, error) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	start := time.Now()
	ip, err := env.resolveOne(ctx, host, t.HTTP.IPProtocol, !t.HTTP.NoFallback)
	lookup := time.Since(start)
	ph.resolve += lookup
	if !ph.ip.IsValid() {
		ph.lookup = lookup // as blackbox_exporter: the first hop's lookup
	}
	if err != nil {
		return nil, readBody{}, err
	}
	ph.ip = ip
	start = time.Now()
	conn, err := env.dialer().DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
	ph.connect += time.Since(start)
	if err != nil {
		return nil, readBody{}, err
	}
	defer conn.Close()
	// The context's end unblocks every read and write, and is then seen by
	// ctxErr; the connection's own deadline is only a backstop after it,
	// so a timeout is never mistaken for a malformed response.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl.Add(time.Second))
	}
	var state *tls.ConnectionState
	if u.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: serverName, RootCAs: env.RootCAs, NextProtos: []string{"http/1.1"}})
		start = time.Now()
		err := tc.HandshakeContext(ctx)
		ph.tls += time.Since(start)
		if err != nil {
			return nil, readBody{}, ctxErr(ctx, err)
		}
		st := tc.ConnectionState()
		state, conn = &st, tc
	}
	// The request is only written and its method read back: it needs no
	// context, and its URL is already parsed.
	req := &http.Request{Method: method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"User-Agent": {"Bulwark-Agent/1"}}, Host: u.Host, Close: true}
	if t.HTTP.Body != "" && method != http.MethodGet && method != http.MethodHead {
		req.Body = io.NopCloser(strings.NewReader(t.HTTP.Body))
		req.ContentLength = int64(len(t.HTTP.Body))
	}
	for k, v := range t.HTTP.Headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if err := writeRequest(conn, req); err != nil {
		return nil, readBody{}, ctxErr(ctx, err)
	}
	ph.wrote = time.Now()
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(io.LimitReader(conn, 64<<10+env.maxBody()+1))
	defer func() { br.Reset(nil); bufPool.Put(br) }()
	if _, err := br.Peek(1); err != nil {
		return nil, readBody{}, ctxErr(ctx, err)
	}
	ph.firstByte = time.Now()
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, readBody{}, ctxErr(ctx, err)
	}
	resp.TLS = state
	var rb readBody
	lr := io.LimitReader(resp.Body, env.maxBody()+1)
	if keep {
		rb.data, rb.err = io.ReadAll(lr)
		rb.n = int64(len(rb.data))
	} else {
		rb.n, rb.err = io.Copy(io.Discard, lr)
	}
	rb.err = ctxErr(ctx, rb.err)
	if errors.Is(rb.err, io.EOF) {
		rb.err = nil
	}
	ph.end = time.Now()
	return resp, rb, nil
}

// writeRequest writes req to conn in one write through a pooled buffer
// (req.Write alone would allocate one for every probe).
func writeRequest(conn net.Conn, req *http.Request) error {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(conn)
	defer func() { bw.Reset(nil); writerPool.Put(bw) }()
	if err := req.Write(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// ctxErr reports a context's deadline or cancellation rather than the
// connection error it caused.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

func validStatus(valid []int, code int) bool {
	if len(valid) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(valid, code)
}

// phases times one probe. Across redirects resolve, connect and TLS add
// up; processing and transfer belong to the last hop.
type phases struct {
	resolve, connect, tls time.Duration
	wrote, firstByte, end time.Time
	lookup                time.Duration // the first hop's resolve
	ip                    netip.Addr    // the last hop's address
	redirects             int
	regexFailed           bool
}

// record records what every run has, whether or not it got an answer.
func (p *phases) record(r *Recorder) {
	set := func(name string, d time.Duration) {
		r.Set("probe_http_duration_seconds", max(d, 0).Seconds(), "phase", name)
	}
	set("resolve", p.resolve)
	set("connect", p.connect)
	set("tls", p.tls)
	set("processing", since(p.wrote, p.firstByte))
	set("transfer", since(p.firstByte, p.end))
	r.Set("probe_http_redirects", float64(p.redirects))
	r.Set("probe_failed_due_to_regex", b2f(p.regexFailed))
	if p.ip.IsValid() {
		recordAddr(r, p.ip, p.lookup)
	}
}

// recordResponse records what the final answer tells, as
// blackbox_exporter does.
func recordResponse(r *Recorder, resp *http.Response) {
	r.Set("probe_http_status_code", float64(resp.StatusCode))
	r.Set("probe_http_content_length", float64(resp.ContentLength))
	version, _ := strconv.ParseFloat(strings.TrimPrefix(resp.Proto, "HTTP/"), 64)
	r.Set("probe_http_version", version)
	if v := resp.Header.Get("Last-Modified"); v != "" { // ParseTime("") allocates three errors
		if lm, err := http.ParseTime(v); err == nil {
			r.Set("probe_http_last_modified_timestamp_seconds", float64(lm.Unix()))
		}
	}
	r.Set("probe_http_ssl", b2f(resp.TLS != nil))
	if resp.TLS != nil {
		recordTLSState(r, resp.TLS)
	}
}

func since(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return b.Sub(a)
}
