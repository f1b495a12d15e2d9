package agent

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/bulwarkhq/bulwark/agent/agentconfig"
)

// CollectorClient is the HTTP client for pushing and pulling: it verifies
// the collector against collector.ca_file and server_name, and presents
// the agent's client certificate when one is configured. It returns nil
// when the defaults do.
func CollectorClient(c agentconfig.Collector) (*http.Client, error) {
	if c.CAFile == "" && c.ServerName == "" && c.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pool, err := loadRoots(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("collector.ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		// Loaded now to fail early, and again for each new connection so a
		// renewed certificate is taken without a restart.
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			return nil, fmt.Errorf("collector.cert_file: %w", err)
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("collector.cert_file: %w", err)
			}
			return &cert, nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}
