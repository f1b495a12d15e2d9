// Package webhook posts notifications as JSON to any HTTP endpoint,
// signed with HMAC-SHA256 so the receiving end can verify them.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

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
	headers := map[string]string{"User-Agent": "Bulwark"}
	if len(r.Secret) > 0 {
		headers[SignatureHeader] = Sign(r.Secret, body)
	}
	code, err := notify.PostJSON(ctx, r.Client, "webhook", r.URL, body, headers)
	if err != nil {
		return !errors.Is(err, notify.ErrBadURL), err
	}
	if code/100 == 2 {
		return false, nil
	}
	return notify.Retry(code), fmt.Errorf("webhook %s: HTTP %d", notify.Redacted(r.URL), code)
}
