package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// metric returns the value recorded for name with the given label pairs.
func metric(t *testing.T, res Result, name string, labels ...string) float64 {
	t.Helper()
	for _, m := range res.Metrics {
		if m.Name == name && strings.Join(m.Labels, ",") == strings.Join(labels, ",") {
			return m.Value
		}
	}
	t.Fatalf("no metric %s%v in %+v", name, labels, res.Metrics)
	return 0
}

func TestHTTPPlain(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello, operator"))
	}))
	defer srv.Close()
	res := Run(t.Context(), "http", &target.Target{ID: "plain", URL: srv.URL}, &Env{})
	if !res.Success {
		t.Fatalf("probe failed: %v", res.Err)
	}
	if v := metric(t, res, "probe_http_status_code"); v != 200 {
		t.Errorf("status = %v", v)
	}
	if v := metric(t, res, "probe_http_content_length"); v != 15 {
		t.Errorf("content length = %v", v)
	}
	if v := metric(t, res, "probe_http_ssl"); v != 0 {
		t.Errorf("ssl = %v", v)
	}
	if v := metric(t, res, "probe_http_duration_seconds", "phase", "connect"); v <= 0 {
		t.Errorf("connect phase = %v, want > 0 on a fresh connection", v)
	}
	if v := metric(t, res, "probe_success"); v != 1 {
		t.Errorf("probe_success = %v", v)
	}
}

func TestHTTPStatusNotExpected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	res := Run(t.Context(), "http", &target.Target{ID: "x", URL: srv.URL}, &Env{})
	if res.Success || !strings.Contains(res.Err.Error(), "status 503") {
		t.Fatalf("want failure on 503, got %v", res.Err)
	}
	if v := metric(t, res, "probe_success"); v != 0 {
		t.Errorf("probe_success = %v", v)
	}
	ok := Run(t.Context(), "http", &target.Target{ID: "x", URL: srv.URL, HTTP: target.HTTP{ValidStatusCodes: []int{503}}}, &Env{})
	if !ok.Success {
		t.Fatalf("503 listed as valid but probe failed: %v", ok.Err)
	}
}

// A TLS server signed by a generated CA: trusted when the CA is given,
// a clear certificate error otherwise.
func TestHTTPSGeneratedCA(t *testing.T) {
	ca, err := demo.NewCA("Test Root", "Test Org", "XB")
	if err != nil {
		t.Fatal(err)
	}
	notAfter := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	cert, err := ca.Issue(notAfter, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tg := &target.Target{ID: "tls", URL: srv.URL}

	res := Run(t.Context(), "http", tg, &Env{RootCAs: roots})
	if !res.Success {
		t.Fatalf("probe failed: %v", res.Err)
	}
	if v := metric(t, res, "probe_http_ssl"); v != 1 {
		t.Errorf("ssl = %v", v)
	}
	if v := metric(t, res, "probe_ssl_earliest_cert_expiry"); int64(v) != notAfter.Unix() {
		t.Errorf("expiry = %v, want %v", int64(v), notAfter.Unix())
	}
	if v := metric(t, res, "probe_http_duration_seconds", "phase", "tls"); v <= 0 {
		t.Errorf("tls phase = %v", v)
	}

	bad := Run(t.Context(), "http", tg, &Env{})
	if bad.Success || !strings.Contains(bad.Err.Error(), "certificate") {
		t.Fatalf("want certificate error with system roots, got %v", bad.Err)
	}
}

func TestHTTPSlowTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	res := Run(t.Context(), "http", &target.Target{ID: "slow", URL: srv.URL, Timeout: configfile.Duration(300 * time.Millisecond)}, &Env{})
	if res.Success || !strings.Contains(res.Err.Error(), "deadline exceeded") {
		t.Fatalf("want deadline error, got %v", res.Err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("probe took %v with a 300ms timeout", el)
	}
}

func TestHTTPRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res := Run(t.Context(), "http", &target.Target{ID: "gone", URL: "http://" + addr + "/"}, &Env{})
	if res.Success || !strings.Contains(res.Err.Error(), "connection refused") {
		t.Fatalf("want connection refused, got %v", res.Err)
	}
}

// Names resolve through the configured DNS server, and probes dial from
// the configured source address: the demo's home-only service answers the
// home agent and refuses the abroad one.
func TestHTTPResolverAndSourceAddress(t *testing.T) {
	w, err := demo.Start(demo.Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, s := range w.Services {
		if !s.Has(demo.HomeOnly) {
			continue
		}
		tg := &target.Target{ID: s.ID, URL: s.URL, Timeout: configfile.Duration(3 * time.Second)}
		home := Run(context.Background(), "http", tg, &Env{Resolver: w.DNS.Addr, RootCAs: w.Roots, SourceAddr: demo.HomeSource()})
		if !home.Success {
			t.Fatalf("home probe of %s failed: %v", s.ID, home.Err)
		}
		if v := metric(t, home, "probe_http_duration_seconds", "phase", "resolve"); v <= 0 {
			t.Errorf("resolve phase = %v", v)
		}
		abroad := Run(context.Background(), "http", tg, &Env{Resolver: w.DNS.Addr, RootCAs: w.Roots, SourceAddr: demo.AbroadSource()})
		if abroad.Success {
			t.Fatalf("abroad probe of home-only %s succeeded", s.ID)
		}
		return
	}
	t.Fatal("demo world has no home-only service")
}

func TestUnknownHost(t *testing.T) {
	w, err := demo.Start(demo.Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	res := Run(t.Context(), "http", &target.Target{ID: "nx", URL: "https://nope.arcadia.test/"}, &Env{Resolver: w.DNS.Addr})
	if res.Success || !strings.Contains(res.Err.Error(), "resolve nope.arcadia.test") {
		t.Fatalf("want resolve error, got %v", res.Err)
	}
}
