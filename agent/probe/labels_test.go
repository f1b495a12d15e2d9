package probe

import (
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// Every label a prober writes is declared in target's one table, so a
// target label that would collide with it is refused at config time
// (issue 8). A prober that starts writing a new label fails here until
// the table lists it.
func TestProberLabelsDeclared(t *testing.T) {
	w := startWorld(t)
	env := &Env{Resolver: w.DNS.Addr, RootCAs: w.Roots}
	var https *demo.Service
	for _, s := range w.Services {
		if s.URL != "" && s.URL[:6] == "https:" {
			https = s
			break
		}
	}
	ca, _ := demo.NewCA("ArcaTrust Root R1", "ArcaTrust", "XA")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	tlsAddr := tlsServer(t, ca, time.Now().Add(time.Hour), "127.0.0.1")
	runs := []struct {
		check string
		t     *target.Target
		env   *Env
	}{
		{"http", &target.Target{ID: "x", URL: https.URL}, env},
		{"http", &target.Target{ID: "x", URL: "http://127.0.0.1:1/"}, env}, // fails: reason
		{"tls", &target.Target{ID: "x", URL: https.URL}, env},
		{"dns", &target.Target{ID: "x", Host: "grid-portal.arcadia.test", DNS: target.DNS{DNSSEC: true}}, env},
		{"tcp", &target.Target{ID: "x", Host: tlsAddr, TCP: target.TCP{TLS: true}}, &Env{RootCAs: roots}},
		{"deps", &target.Target{ID: "x", URL: https.URL, Timeout: configfile.Duration(5 * time.Second)}, env},
	}
	seen := map[string]bool{}
	for _, r := range runs {
		res := Run(t.Context(), r.check, r.t, r.env)
		declared := target.ProberLabels(r.check)
		for _, m := range res.Metrics {
			for i := 0; i+1 < len(m.Labels); i += 2 {
				name := m.Labels[i]
				seen[name] = true
				if !slices.Contains(declared, name) {
					t.Errorf("%s check writes %s{%s=...}, which internal/target's proberLabels does not list", r.check, m.Name, name)
				}
				if !target.Reserved(name) {
					t.Errorf("label %q is not reserved", name)
				}
			}
		}
	}
	for _, want := range []string{"phase", "reason", "version", "organization", "country", "layer", "sha256"} {
		if !seen[want] {
			t.Errorf("no run wrote %q: the test no longer covers it", want)
		}
	}
}
