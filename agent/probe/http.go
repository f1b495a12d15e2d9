package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/internal/target"
)

const defaultMaxRedirects = 10

// ProbeHTTP fetches the target URL over a fresh connection and records
// probe_http_status_code, probe_http_content_length, probe_http_redirects,
// probe_http_ssl, probe_ip_protocol, probe_tls_cert_expiry_timestamp_seconds
// and the duration of each phase in
// probe_duration_seconds{phase=resolve|connect|tls|processing|transfer}.
// Bodies are read up to Env.MaxBodyBytes: a longer body fails the probe.
func ProbeHTTP(ctx context.Context, t *target.Target, env *Env, r *Recorder) error {
	var bodyRE *regexp.Regexp
	if t.HTTP.BodyRegex != "" {
		var err error
		if bodyRE, err = regexp.Compile(t.HTTP.BodyRegex); err != nil {
			return fail("config", "body_regex: %w", err)
		}
	}
	var tr phaseTimes
	dialer := env.dialer()
	transport := &http.Transport{
		DisableKeepAlives:      true,
		DisableCompression:     true,
		TLSClientConfig:        &tls.Config{RootCAs: env.RootCAs},
		MaxResponseHeaderBytes: 64 << 10,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			start := time.Now()
			ip, err := env.resolveOne(ctx, host, t.HTTP.IPProtocol, !t.HTTP.NoFallback)
			tr.locked(func() { tr.resolve += time.Since(start) })
			if err != nil {
				return nil, err
			}
			tr.locked(func() { tr.ip6 = !ip.Is4() })
			return dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		},
	}
	defer transport.CloseIdleConnections()
	maxRedirects := t.HTTP.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = defaultMaxRedirects
	}
	redirects := 0
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if maxRedirects < 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return fail("redirects", "more than %d redirects", maxRedirects)
			}
			redirects = len(via)
			return nil
		},
	}

	method := t.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if t.HTTP.Body != "" {
		body = strings.NewReader(t.HTTP.Body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, tr.trace()), method, t.URL, body)
	if err != nil {
		return fail("config", "request: %w", err)
	}
	req.Header.Set("User-Agent", "Bulwark-Agent/1")
	for k, v := range t.HTTP.Headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	defer func() {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		phase := func(name string, d time.Duration) {
			r.Set("probe_duration_seconds", max(d, 0).Seconds(), "phase", name)
		}
		phase("resolve", tr.resolve)
		phase("connect", tr.connect)
		phase("tls", tr.tls)
		phase("processing", tr.processing())
		phase("transfer", tr.transfer())
		ipProto := 4.0
		if tr.ip6 {
			ipProto = 6
		}
		r.Set("probe_ip_protocol", ipProto)
	}()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, t.URL, err)
	}
	defer resp.Body.Close()
	r.Set("probe_http_status_code", float64(resp.StatusCode))
	r.Set("probe_http_redirects", float64(redirects))
	if resp.TLS != nil {
		r.Set("probe_http_ssl", 1)
		if len(resp.TLS.PeerCertificates) > 0 {
			r.Set("probe_tls_cert_expiry_timestamp_seconds", float64(earliestExpiry(resp.TLS.PeerCertificates).Unix()))
		}
	} else {
		r.Set("probe_http_ssl", 0)
	}

	limit := env.maxBody()
	var buf []byte
	var n int64
	if bodyRE != nil {
		buf, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
		n = int64(len(buf))
	} else {
		n, err = io.Copy(io.Discard, io.LimitReader(resp.Body, limit+1))
	}
	tr.locked(func() { tr.end = time.Now() })
	r.Set("probe_http_content_length", float64(min(n, limit)))
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read body: %w", err)
	}
	if n > limit {
		return fail("body_too_large", "body larger than the limit of %d bytes", limit)
	}
	if !validStatus(t.HTTP.ValidStatusCodes, resp.StatusCode) {
		return fail("status", "status %d is not an expected status", resp.StatusCode)
	}
	if bodyRE != nil && !bodyRE.Match(buf) {
		return fail("body_mismatch", "body does not match %q", t.HTTP.BodyRegex)
	}
	return nil
}

func validStatus(valid []int, code int) bool {
	if len(valid) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(valid, code)
}

// phaseTimes collects httptrace events. Across redirects the durations of
// resolve, connect and TLS add up; processing and transfer belong to the
// last hop. Callbacks come from the transport's goroutines, hence the mutex.
type phaseTimes struct {
	mu                     sync.Mutex
	connectStart, tlsStart time.Time
	resolve, connect, tls  time.Duration
	wrote, firstByte, end  time.Time
	ip6                    bool
}

func (p *phaseTimes) locked(f func()) {
	p.mu.Lock()
	f()
	p.mu.Unlock()
}

func (p *phaseTimes) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		ConnectStart:      func(string, string) { p.locked(func() { p.connectStart = time.Now() }) },
		ConnectDone:       func(string, string, error) { p.locked(func() { p.connect += time.Since(p.connectStart) }) },
		TLSHandshakeStart: func() { p.locked(func() { p.tlsStart = time.Now() }) },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			p.locked(func() { p.tls += time.Since(p.tlsStart) })
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { p.locked(func() { p.wrote = time.Now() }) },
		GotFirstResponseByte: func() { p.locked(func() { p.firstByte = time.Now() }) },
	}
}

// processing and transfer are called with p.mu held.
func (p *phaseTimes) processing() time.Duration {
	if p.wrote.IsZero() || p.firstByte.IsZero() {
		return 0
	}
	return p.firstByte.Sub(p.wrote)
}

func (p *phaseTimes) transfer() time.Duration {
	if p.firstByte.IsZero() || p.end.IsZero() {
		return 0
	}
	return p.end.Sub(p.firstByte)
}
