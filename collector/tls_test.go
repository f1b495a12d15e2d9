package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// pki writes a server CA, a client CA and certificates into dir.
type pki struct {
	dir             string
	n               int // certificates issued, for file names
	serverCA, other *demo.CA
	clientCA        *demo.CA
	serverCAFile    string
	otherCAFile     string
	clientCAFile    string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	var err error
	for _, ca := range []struct {
		dst  **demo.CA
		file *string
		name string
	}{{&p.serverCA, &p.serverCAFile, "Bulwark Test Server CA"}, {&p.clientCA, &p.clientCAFile, "Bulwark Test Agent CA"}, {&p.other, &p.otherCAFile, "Someone Else CA"}} {
		if *ca.dst, err = demo.NewCA(ca.name, "Bulwark Test", "XA"); err != nil {
			t.Fatal(err)
		}
		*ca.file = filepath.Join(p.dir, strings.ReplaceAll(ca.name, " ", "-")+".pem")
		os.WriteFile(*ca.file, (*ca.dst).PEM(), 0o600)
	}
	return p
}

// issue writes a certificate of ca for hosts, returning its files.
func (p *pki) issue(t *testing.T, ca *demo.CA, notAfter time.Time, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	c, err := ca.Issue(notAfter, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	p.n++
	name := filepath.Join(p.dir, fmt.Sprintf("%s-%d", hosts[0], p.n))
	certFile, keyFile = name+".crt", name+".key"
	if err := demo.WritePEM(c, certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startTLSCollector serves with a Prometheus web config: the server
// certificate, and client certificates verified when given.
func startTLSCollector(t *testing.T, p *pki, serverCert, serverKey string) *collector.App {
	t.Helper()
	web := filepath.Join(p.dir, "web.yml")
	os.WriteFile(web, []byte("tls_server_config:\n  cert_file: "+serverCert+"\n  key_file: "+serverKey+
		"\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: "+p.clientCAFile+"\n  min_version: TLS12\n"), 0o600)
	cfgFile := filepath.Join(p.dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(p.dir, "data")+`
agents:
  - {id: home-1, vantage: home, cert_name: home-1.agents.arcadia.test}
  - {id: abroad-1, vantage: abroad, token_env: BULWARK_TEST_ABROAD}
users:
  - {id: vera, role: viewer, token_env: BULWARK_TEST_VIEWER}
`), 0o600)
	t.Setenv("BULWARK_TEST_ABROAD", "abroad-token")
	t.Setenv("BULWARK_TEST_VIEWER", "viewer-token")
	app := startFromFile(t, cfgFile, web)
	t.Cleanup(func() { app.Stop(context.Background()) })
	return app
}

// startFromFile runs a collector from a configuration file (and a web
// configuration file, when given) on a free loopback port; the caller stops it.
func startFromFile(t *testing.T, cfgFile, webConfig string) *collector.App {
	t.Helper()
	cfg, err := collectorconfig.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	app, err := collector.New(collector.Options{Config: cfg, ConfigFile: cfgFile, WebConfigFile: webConfig})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	return app
}

// pushWith sends one sample through an agent's collector client.
func pushWith(t *testing.T, c agentconfig.Collector, token string) (int, error) {
	t.Helper()
	client, err := agent.CollectorClient(c)
	if err != nil {
		return 0, err
	}
	req := &wire.WriteRequest{Series: []wire.Series{{
		Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "target", Value: "grid-portal"}},
		Samples: []wire.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}},
	}}}
	r, _ := http.NewRequest(http.MethodPost, c.URL+"/api/v1/write", bytes.NewReader(wire.Compress(nil, req)))
	r.Header.Set("Content-Encoding", "snappy")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(r)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TLS through the Prometheus web configuration file, agents by client
// certificate or by token, verified against generated CAs (issue 8).
func TestTLSAndClientCertificates(t *testing.T) {
	p := newPKI(t)
	serverCert, serverKey := p.issue(t, p.serverCA, time.Now().Add(time.Hour), "collector.arcadia.test", "127.0.0.1")
	app := startTLSCollector(t, p, serverCert, serverKey)
	url := "https://" + app.Addr()
	agentCert, agentKey := p.issue(t, p.clientCA, time.Now().Add(time.Hour), "home-1.agents.arcadia.test")
	strangerCert, strangerKey := p.issue(t, p.other, time.Now().Add(time.Hour), "home-1.agents.arcadia.test")
	expiredCert, expiredKey := p.issue(t, p.clientCA, time.Now().Add(-time.Minute), "home-1.agents.arcadia.test")

	base := agentconfig.Collector{URL: url, CAFile: p.serverCAFile, ServerName: "collector.arcadia.test"}
	withCert := func(cert, key string) agentconfig.Collector { c := base; c.CertFile, c.KeyFile = cert, key; return c }

	if code, err := pushWith(t, withCert(agentCert, agentKey), ""); err != nil || code != http.StatusNoContent {
		t.Fatalf("agent by client certificate: %d %v", code, err)
	}
	if code, err := pushWith(t, base, "abroad-token"); err != nil || code != http.StatusNoContent {
		t.Fatalf("agent by token over TLS: %d %v", code, err)
	}
	if code, err := pushWith(t, base, ""); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("no certificate, no token: %d %v", code, err)
	}
	if _, err := pushWith(t, withCert(strangerCert, strangerKey), ""); err == nil {
		t.Fatal("a client certificate of another CA was accepted")
	}
	if _, err := pushWith(t, withCert(expiredCert, expiredKey), ""); err == nil {
		t.Fatal("an expired client certificate was accepted")
	}
	wrongCA := base
	wrongCA.CAFile = p.otherCAFile
	if _, err := pushWith(t, wrongCA, "abroad-token"); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("a collector certificate of the wrong CA: %v", err)
	}
	wrongName := base
	wrongName.ServerName = "impostor.arcadia.test"
	if _, err := pushWith(t, wrongName, "abroad-token"); err == nil {
		t.Fatal("a collector certificate for another name was accepted")
	}
	// Plain HTTP to the TLS listener is refused.
	if resp, err := http.Get("http://" + app.Addr() + "/-/healthy"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP served by a TLS listener")
	}
}

// An expired server certificate is refused by the agent.
func TestExpiredCollectorCertificate(t *testing.T) {
	p := newPKI(t)
	serverCert, serverKey := p.issue(t, p.serverCA, time.Now().Add(-time.Minute), "collector.arcadia.test", "127.0.0.1")
	app := startTLSCollector(t, p, serverCert, serverKey)
	c := agentconfig.Collector{URL: "https://" + app.Addr(), CAFile: p.serverCAFile}
	if _, err := pushWith(t, c, "abroad-token"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired collector certificate: %v", err)
	}
}
