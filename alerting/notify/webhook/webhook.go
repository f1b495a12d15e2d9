// Package webhook posts notifications as JSON to any HTTP endpoint,
// signed with HMAC-SHA256 so the receiving end can verify them.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Bulwark-Signature"

// Receiver posts to one URL.
type Receiver struct {
	URL    string
	Secret []byte // HMAC key; empty: unsigned
	Client *http.Client
}

var _ alerting.Receiver = (*Receiver)(nil)

// Sign is the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret (for
// receiving ends written in Go).
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Notify posts n.
func (r *Receiver) Notify(ctx context.Context, n *alerting.Notification) (bool, error) {
	body, err := json.Marshal(map[string]any{"version": "1", "receiver": n.Receiver, "status": n.Status, "groupKey": n.GroupKey,
		"groupLabels": n.GroupLabels, "cause": n.Cause, "alerts": n.Alerts})
	if err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: not a usable URL", notify.Redacted(r.URL))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Bulwark")
	if len(r.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(r.Secret, body))
	}
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold the hook's secret
		}
		return true, fmt.Errorf("webhook %s: %w", notify.Redacted(r.URL), err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	return notify.Retry(resp.StatusCode), fmt.Errorf("webhook %s: HTTP %d", notify.Redacted(r.URL), resp.StatusCode)
}
