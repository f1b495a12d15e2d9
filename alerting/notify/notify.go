// Package notify holds what every receiver shares: the retry decision
// for an HTTP or SMTP answer, and the redaction of URLs in errors and logs.
// Receivers live in notify/<kind>/ and return (retry bool, err error).
package notify

import (
	"net/http"
	"net/url"
)

// Retry reports whether a request answered with code may succeed later:
// server errors and 429 yes, other client errors no (Alertmanager's
// notify/util.go makes the same call).
func Retry(code int) bool {
	return code/100 == 5 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// RetrySMTP reports whether an SMTP reply code may succeed later: 4xx are
// transient (RFC 5321 section 4.2.1), 5xx permanent.
func RetrySMTP(code int) bool { return code/100 == 4 }

// Redacted is raw with its password and query masked: webhook URLs carry
// their secret in the path or query, so only scheme, host and path's
// first segment are shown.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	r := &url.URL{Scheme: u.Scheme, Host: u.Host}
	if u.User != nil {
		r.User = url.User(u.User.Username())
	}
	if u.Path != "" && u.Path != "/" {
		r.Path = "/..."
	}
	return r.String()
}
