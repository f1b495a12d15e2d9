package collector_test

import (
	"context"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/testenv/smtpd"
)

// Issue 9: a configured e-mail receiver, its password and CA from files,
// reaches a real SMTP server through STARTTLS, routed down the tree by the
// target's criticality.
func TestEmailReceiverFromConfig(t *testing.T) {
	srv := smtpd.Start(t, "starttls")
	dir := t.TempDir()
	rules := portalRule(t, dir)
	pw := filepath.Join(dir, "smtp.password")
	os.WriteFile(pw, []byte(smtpd.Password+"\n"), 0o600)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
targets:
  - {id: tax-portal, sector: government, criticality: 1, url: 'https://tax-portal.example/'}
alerting:
  evaluation_interval: 1s
  rule_files: [%s]
  receivers:
    - name: chat
      webhook: {url: "http://127.0.0.1:1/never"}
    - name: duty-mail
      email: {smarthost: %q, from: bulwark@cert.example, to: [duty@cert.example], username: %s, password_file: %s, ca_file: %s}
  routes:
    - receiver: chat
      group_wait: 1s
      routes:
        - match: {criticality: "1"}
          receiver: duty-mail
`, filepath.Join(dir, "data"), rules, srv.Addr, smtpd.User, pw, srv.CAFile)), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Messages(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no mail after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	msgs := srv.Messages(t)
	subject, _ := new(mime.WordDecoder).DecodeHeader(msgs[0].Header.Get("Subject"))
	if len(msgs) != 1 || subject != "[FIRING] PortalUnreachable: 1 service" {
		t.Errorf("%d messages, the first titled %q", len(msgs), subject)
	}
}
