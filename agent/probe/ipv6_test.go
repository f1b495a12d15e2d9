package probe

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/miekg/dns"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// A dual-stack name whose service listens on IPv6 only: ip6 preference
// reaches it, the default ip4 does not.
func TestIPProtocolPreference(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback here")
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}}
	srv.Start()
	defer srv.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	w := startWorld(t)
	if err := w.DNS.Set("dual.arcadia.test.", dns.TypeA, "dual.arcadia.test. 60 IN A 127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := w.DNS.Set("dual.arcadia.test.", dns.TypeAAAA, "dual.arcadia.test. 60 IN AAAA ::1"); err != nil {
		t.Fatal(err)
	}
	env := &Env{Resolver: w.DNS.Addr}
	url := "http://dual.arcadia.test:" + port + "/"
	v6 := Run(t.Context(), "http", &target.Target{ID: "x", URL: url, HTTP: target.HTTP{IPProtocol: "ip6"}}, env)
	if !v6.Success || metric(t, v6, "probe_ip_protocol") != 6 {
		t.Fatalf("ip6: %v", v6.Err)
	}
	v4 := Run(t.Context(), "http", &target.Target{ID: "x", URL: url}, env)
	if v4.Success || metric(t, v4, "probe_ip_protocol") != 4 {
		t.Fatalf("ip4 reached an IPv6-only service: %v", v4.Err)
	}
	// Only AAAA and no fallback allowed from ip4: a clear DNS failure.
	w.DNS.Set("v6only.arcadia.test.", dns.TypeAAAA, "v6only.arcadia.test. 60 IN AAAA ::1")
	none := Run(t.Context(), "http", &target.Target{ID: "x", URL: "http://v6only.arcadia.test:" + port + "/", HTTP: target.HTTP{NoFallback: true}}, env)
	if none.Success || Reason(none.Err) != "dns" {
		t.Fatalf("no ip4 address without fallback: %v", none.Err)
	}
}
