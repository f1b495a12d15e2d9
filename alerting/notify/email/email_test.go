package email

import (
	"context"
	"crypto/tls"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/internal/testenv/smtpd"
)

func notification() *alerting.Notification {
	since := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	var alerts []*alerting.Alert
	for _, tgt := range []string{"tax-portal", "e-id"} {
		alerts = append(alerts, &alerting.Alert{StartsAt: since,
			Labels: labels.FromStrings("alertname", "ServiceDownEverywhere", "classification", "down-everywhere", "target", tgt),
			// A label or annotation is input: a newline must not become a header.
			Annotations: labels.FromStrings("summary", "Down from every vantage.\r\nBcc: victim@example.org")})
	}
	return &alerting.Notification{Receiver: "duty-mail", Status: "firing", Alerts: alerts,
		Cause: &alerting.Cause{Layer: "dns", Provider: "cathaydns", Name: "Cathay DNS", Jurisdiction: "XC", Targets: []string{"tax-portal", "e-id"}}}
}

// Issue 9: e-mail through a real SMTP server with STARTTLS and AUTH; the
// message names the shared cause and the services; nothing is injected.
func TestEmailThroughSTARTTLS(t *testing.T) {
	s := smtpd.Start(t, "starttls")
	r := &Receiver{Smarthost: s.Addr, From: "bulwark@cert.example", To: []string{"duty@cert.example", "soc@cert.example"},
		Username: smtpd.User, Password: smtpd.Password, TLS: &tls.Config{RootCAs: s.Roots}, ConsoleURL: "https://bulwark.cert.example/"}
	if retry, err := r.Notify(context.Background(), notification()); err != nil {
		t.Fatalf("Notify: retry=%v, %v", retry, err)
	}
	msgs := s.Messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the Maildir, want 1", len(msgs))
	}
	m := msgs[0]
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subject != "[FIRING] ServiceDownEverywhere: 2 services" {
		t.Errorf("Subject %q", subject)
	}
	if bcc := m.Header.Get("Bcc"); bcc != "" {
		t.Errorf("an annotation injected a Bcc header: %q", bcc)
	}
	body, _ := io.ReadAll(m.Body)
	text := decodeQP(t, body)
	for _, want := range []string{"Probable shared cause: Cathay DNS (XC), dns layer, common to 2 of 2 services",
		"• tax-portal (down-everywhere) down since 2026-11-26 12:00 UTC", "Console: https://bulwark.cert.example/"} {
		if !strings.Contains(text, want) {
			t.Errorf("body lacks %q:\n%s", want, text)
		}
	}
}

func decodeQP(t *testing.T, b []byte) string {
	t.Helper()
	r := quotedprintable.NewReader(strings.NewReader(string(b)))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Every failure says whether to retry, and no error carries the password.
func TestEmailFailures(t *testing.T) {
	s := smtpd.Start(t, "starttls")
	plain := smtpd.Start(t, "plain")
	base := Receiver{Smarthost: s.Addr, From: "bulwark@cert.example", To: []string{"duty@cert.example"},
		Username: smtpd.User, Password: smtpd.Password, TLS: &tls.Config{RootCAs: s.Roots}, Timeout: 5 * time.Second}
	for name, tc := range map[string]struct {
		change    func(r *Receiver)
		retry     bool
		errSubstr string
	}{
		"mailbox full (452)":       {func(r *Receiver) { r.To = []string{"full@cert.example"} }, true, "452"},
		"no such user (550)":       {func(r *Receiver) { r.To = []string{"nobody@cert.example"} }, false, "550"},
		"wrong password (535)":     {func(r *Receiver) { r.Password = "wrong-pass" }, false, "535"},
		"untrusted certificate":    {func(r *Receiver) { r.TLS = nil }, false, "certificate"},
		"server offers no TLS":     {func(r *Receiver) { r.Smarthost = plain.Addr }, false, "no STARTTLS"},
		"nothing listening":        {func(r *Receiver) { r.Smarthost = closedPort(t) }, true, "connect"},
		"header injection refused": {func(r *Receiver) { r.To = []string{"duty@cert.example\r\nBcc: x@y"} }, false, "not a plain address"},
	} {
		r := base
		tc.change(&r)
		retry, err := r.Notify(context.Background(), notification())
		if err == nil || retry != tc.retry || !strings.Contains(err.Error(), tc.errSubstr) {
			t.Errorf("%s: retry=%v err=%v; want retry=%v and an error with %q", name, retry, err, tc.retry, tc.errSubstr)
		}
		if err != nil && (strings.Contains(err.Error(), smtpd.Password) || strings.Contains(err.Error(), "wrong-pass")) {
			t.Errorf("%s: the password is in the error: %v", name, err)
		}
	}
	if n := len(s.Messages(t)) + len(plain.Messages(t)); n != 0 {
		t.Errorf("%d messages delivered by failing sends", n)
	}
	// Plaintext only when allowed, and then without authenticating.
	r := base
	r.Smarthost, r.AllowPlaintext, r.Username, r.Password = plain.Addr, true, "", ""
	if _, err := r.Notify(context.Background(), notification()); err != nil {
		t.Fatalf("allowed plaintext: %v", err)
	}
	r.Username, r.Password = smtpd.User, smtpd.Password
	if _, err := r.Notify(context.Background(), notification()); err == nil || !strings.Contains(err.Error(), "without TLS") {
		t.Errorf("AUTH over plaintext: %v", err)
	}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
