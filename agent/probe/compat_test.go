package probe

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// bbeSeries is what blackbox_exporter exposes, series name -> label
// names, taken from its source (prometheus/blackbox_exporter, prober/
// handler.go, http.go, tcp.go, dns.go, utils.go at commits 00a3207 and
// 01e2b32) and checked against the exposition of Debian's 0.23.0 binary
// probing loopback servers (TestBlackboxExporterSameNames does so when it
// is installed). Each entry lists the probes that expose it.
//
// Left out on purpose: probe_ssl_last_chain_info{fingerprint_sha256,
// issuer,subject,subjectalternative} (its labels would become reserved
// target labels; Bulwark's tls check has probe_tls_issuer_info), and
// the icmp and grpc probers, which Bulwark does not have.
var bbeSeries = map[string]struct {
	labels []string
	probes []string // of compatProbes
}{
	"probe_success":                                 {nil, []string{"http", "https", "tcp", "tcp_tls", "tls", "dns"}},
	"probe_duration_seconds":                        {nil, []string{"http", "https", "tcp", "tcp_tls", "tls", "dns"}},
	"probe_dns_lookup_time_seconds":                 {nil, []string{"http", "https", "tcp", "tcp_tls", "tls", "dns"}},
	"probe_ip_protocol":                             {nil, []string{"http", "https", "tcp", "tcp_tls", "tls", "dns"}},
	"probe_ip_addr_hash":                            {nil, []string{"http", "https", "tcp", "tcp_tls", "tls", "dns"}},
	"probe_failed_due_to_regex":                     {nil, []string{"http", "https", "tcp", "tcp_tls"}},
	"probe_http_duration_seconds":                   {[]string{"phase"}, []string{"http", "https"}},
	"probe_http_content_length":                     {nil, []string{"http", "https"}},
	"probe_http_uncompressed_body_length":           {nil, []string{"http", "https"}},
	"probe_http_redirects":                          {nil, []string{"http", "https"}},
	"probe_http_ssl":                                {nil, []string{"http", "https"}},
	"probe_http_status_code":                        {nil, []string{"http", "https"}},
	"probe_http_version":                            {nil, []string{"http", "https"}},
	"probe_http_last_modified_timestamp_seconds":    {nil, []string{"http", "https"}},
	"probe_ssl_earliest_cert_expiry":                {nil, []string{"https", "tcp_tls", "tls"}},
	"probe_ssl_last_chain_expiry_timestamp_seconds": {nil, []string{"https", "tcp_tls", "tls"}},
	"probe_tls_version_info":                        {[]string{"version"}, []string{"https", "tcp_tls", "tls"}},
	"probe_dns_duration_seconds":                    {[]string{"phase"}, []string{"dns"}},
	"probe_dns_query_succeeded":                     {nil, []string{"dns"}},
	"probe_dns_answer_rrs":                          {nil, []string{"dns"}},
	"probe_dns_authority_rrs":                       {nil, []string{"dns"}},
	"probe_dns_additional_rrs":                      {nil, []string{"dns"}},
	"probe_dns_serial":                              {nil, []string{"dns"}},
}

// bbePhases are the phase values blackbox_exporter always exposes.
var bbePhases = map[string][]string{
	"probe_http_duration_seconds": {"resolve", "connect", "tls", "processing", "transfer"},
	"probe_dns_duration_seconds":  {"resolve", "connect", "request"},
}

// compatWorld is one loopback server of each kind that both Bulwark and
// blackbox_exporter can probe.
type compatWorld struct {
	httpURL, httpsURL string
	tcpAddr, tlsAddr  string
	dnsAddr           string
	caPEM             []byte // the CA that signed the TLS servers
	roots             *x509.CertPool
}

func startCompatWorld(t *testing.T) *compatWorld {
	t.Helper()
	w := &compatWorld{}
	page := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Last-Modified", "Mon, 07 Dec 2026 10:00:00 GMT")
		rw.Write([]byte("hello, operator"))
	})
	plain := httptest.NewServer(page)
	t.Cleanup(plain.Close)
	w.httpURL = plain.URL + "/"

	ca, err := demo.NewCA("Compat Root", "Compat Org", "XC")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(time.Now().Add(48*time.Hour).Truncate(time.Second), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	w.roots = x509.NewCertPool()
	w.roots.AddCert(ca.Cert)
	w.caPEM = ca.PEM()
	secure := httptest.NewUnstartedServer(page)
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	secure.StartTLS()
	t.Cleanup(secure.Close)
	w.httpsURL = secure.URL + "/"
	w.tlsAddr = strings.TrimPrefix(secure.URL, "https://")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.Write([]byte("220 ready\r\n")); bufio.NewReader(c).ReadString('\n'); c.Close() }()
		}
	}()
	w.tcpAddr = ln.Addr().String()

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		soa, _ := dns.NewRR("example.test. 300 IN SOA ns.example.test. admin.example.test. 2026120701 3600 600 86400 300")
		m.Answer = append(m.Answer, soa)
		rw.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	w.dnsAddr = pc.LocalAddr().String()
	return w
}

// compatProbes are Bulwark's probes of w that answer to blackbox_exporter's
// modules: tcp_tls is its TCP prober with tls, which Bulwark's tls check
// also answers to.
func (w *compatWorld) compatProbes() map[string]struct {
	check string
	t     *target.Target
} {
	type run = struct {
		check string
		t     *target.Target
	}
	return map[string]run{
		"http":    {"http", &target.Target{ID: "x", URL: w.httpURL}},
		"https":   {"http", &target.Target{ID: "x", URL: w.httpsURL}},
		"tcp":     {"tcp", &target.Target{ID: "x", Host: w.tcpAddr, TCP: target.TCP{Steps: []target.TCPStep{{Expect: "^220"}}}}},
		"tcp_tls": {"tcp", &target.Target{ID: "x", Host: w.tlsAddr, TCP: target.TCP{TLS: true}}},
		"tls":     {"tls", &target.Target{ID: "x", TLS: target.TLS{Address: w.tlsAddr}}},
		"dns":     {"dns", &target.Target{ID: "x", Host: "example.test", DNS: target.DNS{Type: "SOA", Resolver: w.dnsAddr}}},
	}
}

// labelSets returns, per series name, the sorted label names of each
// series and, for phase series, the phases.
func labelSets(ms []Metric) (names map[string][]string, phases map[string][]string) {
	names, phases = map[string][]string{}, map[string][]string{}
	for _, m := range ms {
		var ls []string
		for i := 0; i+1 < len(m.Labels); i += 2 {
			ls = append(ls, m.Labels[i])
			if m.Labels[i] == "phase" {
				phases[m.Name] = append(phases[m.Name], m.Labels[i+1])
			}
		}
		slices.Sort(ls)
		names[m.Name] = ls
	}
	return names, phases
}

// Every series blackbox_exporter exposes for a probe, Bulwark's probe of
// the same server exposes under the same name with the same labels; a
// series Bulwark has under one of its names has its labels (issue 21).
func TestBlackboxExporterNames(t *testing.T) {
	w := startCompatWorld(t)
	env := &Env{RootCAs: w.roots}
	for probe, p := range w.compatProbes() {
		res := Run(t.Context(), p.check, p.t, env)
		if !res.Success {
			t.Errorf("%s: probe failed: %v", probe, res.Err)
			continue
		}
		got, phases := labelSets(res.Metrics)
		for name, want := range bbeSeries {
			ls, ok := got[name]
			switch {
			case slices.Contains(want.probes, probe) && !ok:
				t.Errorf("%s: no %s, which blackbox_exporter exposes", probe, name)
			case ok && !slices.Equal(ls, want.labels):
				t.Errorf("%s: %s has labels %v, blackbox_exporter's has %v", probe, name, ls, want.labels)
			}
		}
		for name, want := range bbePhases {
			if _, ok := got[name]; ok && !slices.Equal(slices.Sorted(slices.Values(phases[name])), slices.Sorted(slices.Values(want))) {
				t.Errorf("%s: %s phases %v, want %v", probe, name, phases[name], want)
			}
		}
	}
}

// Values that follow blackbox_exporter's meaning, not only its names:
// probe_http_content_length is the Content-Length header (-1 when the
// body is chunked) and the bytes read are probe_http_uncompressed_body_length;
// probe_ip_addr_hash of 127.0.0.1 is what 0.23 exposes for it; the whole
// run's duration is one unlabelled probe_duration_seconds.
func TestBlackboxExporterValues(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Last-Modified", "Mon, 07 Dec 2026 10:00:00 GMT")
		w.Write([]byte("hello, "))
		w.(http.Flusher).Flush() // chunked: no Content-Length
		w.Write([]byte("operator"))
	}))
	defer srv.Close()
	res := Run(t.Context(), "http", &target.Target{ID: "x", URL: srv.URL}, &Env{})
	if !res.Success {
		t.Fatal(res.Err)
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{"probe_http_content_length", -1},
		{"probe_http_uncompressed_body_length", 15},
		{"probe_http_version", 1.1},
		{"probe_http_last_modified_timestamp_seconds", float64(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).Unix())},
		{"probe_ip_addr_hash", 3668918509},
		{"probe_ip_protocol", 4},
		{"probe_failed_due_to_regex", 0},
	} {
		if got := metric(t, res, c.name); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if d := metric(t, res, "probe_duration_seconds"); d <= 0 || d != res.Duration.Seconds() {
		t.Errorf("probe_duration_seconds = %v, want the run's %v", d, res.Duration.Seconds())
	}
	bad := Run(t.Context(), "http", &target.Target{ID: "x", URL: srv.URL, HTTP: target.HTTP{BodyRegex: "^nope"}}, &Env{})
	if bad.Success || metric(t, bad, "probe_failed_due_to_regex") != 1 {
		t.Errorf("body mismatch: %v, probe_failed_due_to_regex %v", bad.Err, metric(t, bad, "probe_failed_due_to_regex"))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("554 go away\r\n"))
			c.Close()
		}
	}()
	tcp := Run(t.Context(), "tcp", &target.Target{ID: "x", Host: ln.Addr().String(), TCP: target.TCP{Steps: []target.TCPStep{{Expect: "^220"}}}}, &Env{})
	if tcp.Success || metric(t, tcp, "probe_failed_due_to_regex") != 1 {
		t.Errorf("banner mismatch: %v, probe_failed_due_to_regex %v", tcp.Err, metric(t, tcp, "probe_failed_due_to_regex"))
	}
}

// docs/SERIES.md, the operators' list, names every series of bbeSeries.
func TestSeriesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/SERIES.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range bbeSeries {
		if !strings.Contains(string(b), "`"+name+"`") && !strings.Contains(string(b), "`"+name+" ") {
			t.Errorf("docs/SERIES.md does not name %s", name)
		}
	}
}
