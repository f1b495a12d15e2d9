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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/internal/target"
)

const maxRedirects = 10

// ProbeHTTP fetches the target URL over a fresh connection and records
// probe_http_status_code, probe_http_content_length, probe_http_ssl,
// probe_tls_cert_expiry_timestamp_seconds and the duration of each phase
// in probe_duration_seconds{phase=resolve|connect|tls|processing|transfer}.
func ProbeHTTP(ctx context.Context, t *target.Target, env *Env, r *Recorder) error {
	var resolveDur time.Duration
	dialer := env.dialer()
	transport := &http.Transport{
		DisableKeepAlives:  true,
		DisableCompression: true,
		TLSClientConfig:    &tls.Config{RootCAs: env.RootCAs},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			start := time.Now()
			ips, err := env.resolve(ctx, host)
			resolveDur += time.Since(start)
			if err != nil {
				return nil, err
			}
			if len(ips) == 0 {
				return nil, fmt.Errorf("resolve %s: no addresses", host)
			}
			return dialer.DialContext(ctx, "tcp", net.JoinHostPort(ips[0].String(), port))
		},
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if t.HTTP.NoFollowRedirect {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}

	var tr phaseTimes
	method := t.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, tr.trace()), method, t.URL, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("User-Agent", "Bulwark-Agent/1")
	for k, v := range t.HTTP.Headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	phase := func(name string, d time.Duration) {
		r.Set("probe_duration_seconds", max(d, 0).Seconds(), "phase", name)
	}
	defer func() {
		phase("resolve", resolveDur)
		tr.mu.Lock()
		connect, tlsDur := tr.connect, tr.tls
		tr.mu.Unlock()
		phase("connect", connect)
		phase("tls", tlsDur)
		phase("processing", tr.processing())
		phase("transfer", tr.transfer())
	}()
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, t.URL, err)
	}
	defer resp.Body.Close()
	limit := env.MaxBodyBytes
	if limit <= 0 {
		limit = 10 << 20
	}
	n, err := io.Copy(io.Discard, io.LimitReader(resp.Body, limit))
	tr.locked(func() { tr.end = time.Now() })
	r.Set("probe_http_status_code", float64(resp.StatusCode))
	r.Set("probe_http_content_length", float64(n))
	if resp.TLS != nil {
		r.Set("probe_http_ssl", 1)
		if len(resp.TLS.PeerCertificates) > 0 {
			earliest := resp.TLS.PeerCertificates[0].NotAfter
			for _, c := range resp.TLS.PeerCertificates[1:] {
				if c.NotAfter.Before(earliest) {
					earliest = c.NotAfter
				}
			}
			r.Set("probe_tls_cert_expiry_timestamp_seconds", float64(earliest.Unix()))
		}
	} else {
		r.Set("probe_http_ssl", 0)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read body: %w", err)
	}
	if !validStatus(t.HTTP.ValidStatusCodes, resp.StatusCode) {
		return fmt.Errorf("status %d is not an expected status", resp.StatusCode)
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
// connect and TLS add up; processing and transfer belong to the last hop.
// Callbacks come from the transport's goroutines, hence the mutex.
type phaseTimes struct {
	mu                     sync.Mutex
	connectStart, tlsStart time.Time
	connect, tls           time.Duration
	wrote, firstByte, end  time.Time
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

func (p *phaseTimes) processing() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wrote.IsZero() || p.firstByte.IsZero() {
		return 0
	}
	return p.firstByte.Sub(p.wrote)
}

func (p *phaseTimes) transfer() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.firstByte.IsZero() || p.end.IsZero() {
		return 0
	}
	return p.end.Sub(p.firstByte)
}
