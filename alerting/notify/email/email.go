// Package email sends notifications by SMTP, always through STARTTLS
// unless told otherwise: an outage report names a nation's weak points and
// must not cross a network in clear.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// Receiver sends each notification as one message to its recipients.
type Receiver struct {
	// Smarthost is the SMTP server, host:port (submission, 587, usually).
	Smarthost string
	From      string
	To        []string
	// Hello is the name given in EHLO (default "localhost").
	Hello string
	// Username and Password, when set, authenticate with AUTH PLAIN, which
	// is only ever sent over TLS.
	Username, Password string
	// TLS configures STARTTLS (ServerName defaults to the smarthost's
	// host; RootCAs to the system's).
	TLS *tls.Config
	// AllowPlaintext sends without STARTTLS when the server does not offer
	// it; the default refuses to.
	AllowPlaintext bool
	// ConsoleURL is linked in the message.
	ConsoleURL string
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration
}

var _ alerting.Receiver = (*Receiver)(nil)

// Validate checks the receiver's configuration.
func (r *Receiver) Validate() error {
	if _, _, err := net.SplitHostPort(r.Smarthost); err != nil {
		return fmt.Errorf("email: smarthost %q is not host:port", r.Smarthost)
	}
	if r.From == "" || len(r.To) == 0 {
		return errors.New("email: needs from and at least one to")
	}
	for _, a := range append([]string{r.From}, r.To...) {
		if strings.ContainsAny(a, "\r\n<>") || !strings.Contains(a, "@") {
			return fmt.Errorf("email: %q is not a plain address", a)
		}
	}
	return nil
}

// Notify sends n. SMTP 4xx replies and network failures may be retried.
func (r *Receiver) Notify(ctx context.Context, n *alerting.Notification) (bool, error) {
	if err := r.Validate(); err != nil {
		return false, err
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	retry, err := r.send(ctx, r.message(n))
	if err != nil {
		// The password never reaches an error: net/smtp does not echo it,
		// and nothing here formats it.
		return retry, fmt.Errorf("email via %s: %w", r.Smarthost, err)
	}
	return false, nil
}

func (r *Receiver) send(ctx context.Context, msg []byte) (bool, error) {
	host, _, _ := net.SplitHostPort(r.Smarthost)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.Smarthost)
	if err != nil {
		return true, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return classify(err)
	}
	defer c.Close()
	hello := r.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return classify(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if r.TLS != nil {
			cfg = r.TLS.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = host
			}
		}
		if err := c.StartTLS(cfg); err != nil {
			return classify(fmt.Errorf("STARTTLS: %w", err))
		}
	} else if !r.AllowPlaintext {
		return false, errors.New("the server offers no STARTTLS; refusing to send in clear (allow_plaintext to override)")
	}
	if r.Username != "" {
		if _, isTLS := c.TLSConnectionState(); !isTLS {
			return false, errors.New("refusing to authenticate without TLS")
		}
		if err := c.Auth(smtp.PlainAuth("", r.Username, r.Password, host)); err != nil {
			return classify(fmt.Errorf("AUTH as %s: %w", r.Username, err))
		}
	}
	if err := c.Mail(r.From); err != nil {
		return classify(fmt.Errorf("MAIL FROM: %w", err))
	}
	for _, to := range r.To {
		if err := c.Rcpt(to); err != nil {
			return classify(fmt.Errorf("RCPT TO %s: %w", to, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("DATA: %w", err))
	}
	if _, err := w.Write(msg); err != nil {
		return true, err
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("DATA: %w", err))
	}
	return classify(c.Quit())
}

// classify decides on a retry from the SMTP reply code, or retries a
// network failure.
func classify(err error) (bool, error) {
	if err == nil {
		return false, nil
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return notify.RetrySMTP(te.Code), err
	}
	var tlsErr *tls.CertificateVerificationError
	if errors.As(err, &tlsErr) {
		return false, err // a certificate that does not verify will not verify on retry
	}
	return true, err
}

// message renders n as a plain-text message, headers included.
func (r *Receiver) message(n *alerting.Notification) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	rand.Read(id)
	_, host, _ := strings.Cut(r.From, "@")
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", r.From)
	header("To", strings.Join(r.To, ", "))
	// Labels come from rules and targets: Q-encoding also encodes any CR
	// or LF, so no header can be injected.
	header("Subject", mime.QEncoding.Encode("utf-8", n.Title()))
	header("Date", time.Now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+host+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	var body strings.Builder
	body.WriteString(n.Title() + "\n\n")
	if c := n.CauseText(); c != "" {
		body.WriteString("Probable shared cause: " + c + "\n\n")
	}
	for _, l := range n.Lines(func(s string) string { return s }) {
		body.WriteString(l + "\n")
	}
	if n.Ack != nil {
		fmt.Fprintf(&body, "\nAcknowledged by %s.\n", n.Ack.By)
	}
	if r.ConsoleURL != "" {
		body.WriteString("\nConsole: " + r.ConsoleURL + "\n")
	}
	qp.Write([]byte(body.String())) // text mode: each \n becomes CRLF
	qp.Close()
	return b.Bytes()
}
