package probe

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// Issue 8: `url: https://127.0.0.1/` with `Host: portal.test` failed with
// tls_verify; a Host header names the server TLS verifies, as in
// blackbox_exporter.
func TestHostHeaderNamesTheTLSServer(t *testing.T) {
	ca, _ := demo.NewCA("ArcaTrust Root R1", "ArcaTrust", "XA")
	cert, err := ca.Issue(time.Now().Add(time.Hour), "portal.test")
	if err != nil {
		t.Fatal(err)
	}
	var gotHost string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gotHost = r.Host }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	env := &Env{RootCAs: roots}
	with := Run(t.Context(), "http", &target.Target{ID: "x", URL: srv.URL + "/",
		HTTP: target.HTTP{Headers: map[string]string{"Host": "portal.test"}}}, env)
	if !with.Success || gotHost != "portal.test" {
		t.Fatalf("with Host header: %v (server saw Host %q)", with.Err, gotHost)
	}
	without := Run(t.Context(), "http", &target.Target{ID: "x", URL: srv.URL + "/"}, env)
	if without.Success || Reason(without.Err) != "tls_verify" {
		t.Fatalf("without Host header: %v (%s), want tls_verify", without.Err, Reason(without.Err))
	}
}

// A password in a target's URL never reaches an error or a log.
func TestURLRedactedInErrors(t *testing.T) {
	res := Run(t.Context(), "http", &target.Target{ID: "x", URL: "http://operator:s3cret@127.0.0.1:1/", Timeout: configfile.Duration(time.Second)}, &Env{})
	if res.Success || strings.Contains(res.Err.Error(), "s3cret") || !strings.Contains(res.Err.Error(), "operator:xxxxx@") {
		t.Fatalf("error %q", res.Err)
	}
}

// Preparing compiles once; a bad expression is an error then, not at each run.
func TestPrepare(t *testing.T) {
	p, err := Prepare(&target.Target{ID: "x", HTTP: target.HTTP{BodyRegex: "ok"}, DNS: target.DNS{Type: "aaaa", AnswerRegex: "x"},
		TCP: target.TCP{Steps: []target.TCPStep{{Expect: "^220"}, {Send: "QUIT"}}}})
	if err != nil || p.bodyRE == nil || p.answerRE == nil || p.qtype != 28 || p.expect[0] == nil || p.expect[1] != nil {
		t.Fatalf("Prepare = %+v, %v", p, err)
	}
	if _, err := Prepare(&target.Target{ID: "x", HTTP: target.HTTP{BodyRegex: "("}}); err == nil || Reason(err) != "config" {
		t.Fatalf("bad regex: %v", err)
	}
}

// BenchmarkBodyRegex probes a target with a body regex as the agent's
// jobs do (prepared once) and as they did before issue 8 (prepared, and
// the regex compiled, on every run).
func BenchmarkBodyRegex(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Grid operator")) }))
	defer srv.Close()
	tg := &target.Target{ID: "x", URL: srv.URL, HTTP: target.HTTP{BodyRegex: `Grid (operator|portal)\b.*`}}
	env := &Env{}
	b.Run("prepared-once", func(b *testing.B) {
		p, _ := Prepare(tg)
		b.ReportAllocs()
		for b.Loop() {
			if res := RunPrepared(b.Context(), "http", p, env); !res.Success {
				b.Fatal(res.Err)
			}
		}
	})
	b.Run("per-run", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if res := Run(b.Context(), "http", tg, env); !res.Success {
				b.Fatal(res.Err)
			}
		}
	})
}
