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
	"maps"
	"net/http"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Bulwark-Signature"

// Receiver posts to one URL.
type Receiver struct {
	URL    string
	Secret []byte       // HMAC key; empty: unsigned
	Client *http.Client // nil: one with a 10 s timeout
	// ExternalURL (the console's) is the payload's externalURL and each
	// alert's generatorURL.
	ExternalURL string
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

// NotificationIDHeader carries the notification's id (its incident and
// the incident's state version): delivery is at least once, and a
// notification sent again after a crash has the same id.
const NotificationIDHeader = "X-Bulwark-Notification-Id"

// Message is the body posted: Alertmanager's webhook format (version 4),
// so a receiver written for Alertmanager reads it unchanged, with
// Bulwark's own fields beside.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []Alert           `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	// Bulwark's own.
	ID       string          `json:"id,omitempty"`       // the notification's id (as the header)
	Incident string          `json:"incident,omitempty"` // the firing episode
	StartsAt time.Time       `json:"startsAt,omitzero"`  // when the incident began
	Cause    *alerting.Cause `json:"cause"`
	Ack      *alerting.Ack   `json:"ack,omitempty"`
}

// Alert is one alert as Alertmanager's webhook gives it: its own status,
// endsAt zero while it fires, a hex fingerprint of its labels.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// NewMessage is n in the webhook format; externalURL (the console) is also
// each alert's generatorURL.
func NewMessage(n *alerting.Notification, externalURL string) *Message {
	m := &Message{Version: "4", GroupKey: n.GroupKey, Receiver: n.Receiver, Status: n.Status, GroupLabels: n.GroupLabels,
		ExternalURL: externalURL, ID: n.ID, Incident: n.Incident, StartsAt: n.StartsAt, Cause: n.Cause, Ack: n.Ack,
		Alerts: make([]Alert, 0, len(n.Alerts))}
	if m.GroupLabels == nil {
		m.GroupLabels = map[string]string{}
	}
	for i, a := range n.Alerts {
		x := Alert{Status: "firing", Labels: a.Labels.Map(), Annotations: a.Annotations.Map(), StartsAt: a.StartsAt, EndsAt: a.EndsAt,
			GeneratorURL: externalURL, Fingerprint: fmt.Sprintf("%016x", a.Fingerprint())}
		if a.Resolved() {
			x.Status = "resolved"
		}
		m.Alerts = append(m.Alerts, x)
		if i == 0 {
			m.CommonLabels, m.CommonAnnotations = maps.Clone(x.Labels), maps.Clone(x.Annotations)
			continue
		}
		common(m.CommonLabels, x.Labels)
		common(m.CommonAnnotations, x.Annotations)
	}
	if m.CommonLabels == nil {
		m.CommonLabels = map[string]string{}
	}
	if m.CommonAnnotations == nil {
		m.CommonAnnotations = map[string]string{}
	}
	return m
}

// common keeps in c the pairs that m has too.
func common(c, m map[string]string) {
	for k, v := range c {
		if m[k] != v {
			delete(c, k)
		}
	}
}

// Notify posts n.
func (r *Receiver) Notify(ctx context.Context, n *alerting.Notification) (bool, error) {
	body, err := json.Marshal(NewMessage(n, r.ExternalURL))
	if err != nil {
		return false, fmt.Errorf("webhook: %w", err)
	}
	headers := map[string]string{"User-Agent": "Bulwark"}
	if n.ID != "" {
		headers[NotificationIDHeader] = n.ID
	}
	if len(r.Secret) > 0 {
		headers[SignatureHeader] = Sign(r.Secret, body)
	}
	code, h, err := notify.PostJSONHeader(ctx, r.Client, "webhook", r.URL, body, headers)
	if err != nil {
		return !errors.Is(err, notify.ErrBadURL), err
	}
	if code/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("webhook %s: HTTP %d", notify.Redacted(r.URL), code)
	if ra := notify.ParseRetryAfter(h.Get("Retry-After"), time.Now()); ra > 0 && notify.Retry(code) {
		err = &notify.RetryAfterError{After: ra, Err: err}
	}
	return notify.Retry(code), err
}
