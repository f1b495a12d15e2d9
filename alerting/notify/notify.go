// Package notify holds what every receiver shares: the retry decision
// for an HTTP or SMTP answer, and the redaction of URLs in errors and logs.
// Receivers live in notify/<kind>/ and return (retry bool, err error).
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
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

// ErrBadURL: the URL cannot be requested at all; retrying will not help.
var ErrBadURL = errors.New("not a usable URL")

// PostJSON posts body to rawURL with the headers given (client nil: one
// with a 10 s timeout) and returns the answer's status; the answer is
// drained (64 KiB at most) and closed. Errors name the URL redacted, what
// the post is for first: the URL may hold a secret.
func PostJSON(ctx context.Context, client *http.Client, what, rawURL string, body []byte, headers map[string]string) (int, error) {
	code, _, err := PostJSONHeader(ctx, client, what, rawURL, body, headers)
	return code, err
}

// PostJSONHeader is PostJSON that also returns the answer's headers (a
// Retry-After, say).
func PostJSONHeader(ctx context.Context, client *http.Client, what, rawURL string, body []byte, headers map[string]string) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", what, Redacted(rawURL), ErrBadURL)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it names the URL
		}
		return 0, nil, fmt.Errorf("%s %s: %w", what, Redacted(rawURL), err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, nil
}

// DefaultTimeout bounds one HTTP request of a receiver that was given no
// client of its own.
const DefaultTimeout = 10 * time.Second

// RetryAfterError is a failure the receiving end asked to be retried no
// sooner than After (HTTP 429 or 503 with Retry-After, Slack's rate limit).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns the wait err asks for, if it asks for one.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		return ra.After, true
	}
	return 0, false
}

// ParseRetryAfter reads a Retry-After header: seconds, or an HTTP date
// (relative to now); 0 when absent or unreadable.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
