// Package smtpd runs a real SMTP server for tests: aiosmtpd (Debian's
// python3-aiosmtpd) on loopback, with STARTTLS and AUTH, delivering into a
// Maildir the test reads.
package smtpd

import (
	"bufio"
	"crypto/x509"
	_ "embed"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

//go:embed smtpd.py
var script []byte

// The account the server accepts.
const (
	User     = "bulwark"
	Password = "s3cret-pass"
)

// Server is a running aiosmtpd.
type Server struct {
	Addr    string         // host:port on loopback
	Roots   *x509.CertPool // verifies its certificate
	CAFile  string         // the same, as a PEM file
	maildir string
}

// Start runs a server in mode "starttls" (STARTTLS required) or "plain"
// (not offered); it stops when the test ends. Recipients full@... get a
// transient 452, nobody@... a permanent 550.
func Start(t testing.TB, mode string) *Server {
	t.Helper()
	py := testbin.NeedPython(t, "aiosmtpd", "python3-aiosmtpd")
	dir := t.TempDir()
	ca, err := demo.NewCA("Test Mail CA", "Bulwark tests", "XH")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(time.Now().Add(time.Hour), "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	caFile, scriptFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "smtpd.py")
	if err := demo.WritePEM(leaf, cert, key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scriptFile, script, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	maildir := filepath.Join(dir, "Maildir")
	cmd := exec.Command(py, scriptFile, port, cert, key, maildir, User, Password, mode)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder // tracebacks for refused handshakes are expected: shown only on failure
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("smtpd (%s) said:\n%s", mode, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("smtpd did not start: %q, %v", line, err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM())
	return &Server{Addr: addr, Roots: pool, CAFile: caFile, maildir: maildir}
}

// Messages reads the messages delivered so far.
func (s *Server) Messages(t testing.TB) []*mail.Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.maildir, "new", "*"))
	var out []*mail.Message
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, m)
	}
	return out
}
