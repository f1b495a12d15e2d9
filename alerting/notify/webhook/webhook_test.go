package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// The webhook signs its body: the receiving end verifies it, a forged body
// or key fails; status codes decide retries; errors never show the URL's
// secret.
func TestWebhook(t *testing.T) {
	var body []byte
	var sig string
	var code atomic.Int32
	code.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		sig = r.Header.Get(SignatureHeader)
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	rcv := &Receiver{URL: srv.URL + "/hooks/T0SECRET?token=secret", Secret: []byte("hmac-key")}
	n := &alerting.Notification{Receiver: "soc", Status: "firing", Alerts: []*alerting.Alert{{Labels: labels.FromStrings("alertname", "X")}}}
	if _, err := rcv.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if !Verify([]byte("hmac-key"), body, sig) || !strings.Contains(string(body), `"alertname":"X"`) {
		t.Fatalf("signature %q does not verify body %s", sig, body)
	}
	if Verify([]byte("hmac-key"), append(body, ' '), sig) || Verify([]byte("other-key"), body, sig) {
		t.Fatal("a forged body or key verified")
	}
	for _, c := range []struct {
		code  int32
		retry bool
	}{{500, true}, {429, true}, {404, false}, {403, false}} {
		code.Store(c.code)
		retry, err := rcv.Notify(context.Background(), n)
		if err == nil || retry != c.retry || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "token=") {
			t.Errorf("HTTP %d: retry %v, err %v", c.code, retry, err)
		}
	}
}

// A receiver written for Alertmanager reads Bulwark's body with
// Alertmanager's own types: per-alert status, fingerprint, generatorURL,
// endsAt; the notification id in its header.
func TestAlertmanagerFormat(t *testing.T) {
	var body []byte
	var id string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		id = r.Header.Get(NotificationIDHeader)
	}))
	defer srv.Close()
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	firing := &alerting.Alert{Labels: labels.FromStrings("alertname", "Down", "target", "portal"), StartsAt: start}
	resolved := &alerting.Alert{Labels: labels.FromStrings("alertname", "Down", "target", "web"), StartsAt: start,
		EndsAt: start.Add(time.Minute), Annotations: labels.FromStrings("summary", "web down")}
	n := &alerting.Notification{Receiver: "soc", GroupKey: "g", Status: "firing", GroupLabels: map[string]string{"alertname": "Down"},
		Alerts: []*alerting.Alert{firing, resolved}, ID: "inc1-2", Incident: "inc1", StartsAt: start}
	rcv := &Receiver{URL: srv.URL, ExternalURL: "https://bulwark.example/console"}
	if _, err := rcv.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	// Alertmanager's notify/webhook.Message, whose package pulls in
	// clustering this module does not carry: the same fields, its types.
	var m struct {
		*amtemplate.Data
		Version         string `json:"version"`
		GroupKey        string `json:"groupKey"`
		TruncatedAlerts uint64 `json:"truncatedAlerts"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "4" || m.Status != "firing" || m.Receiver != "soc" || m.GroupKey != "g" || len(m.Alerts) != 2 ||
		m.GroupLabels["alertname"] != "Down" || m.CommonLabels["alertname"] != "Down" || m.CommonLabels["target"] != "" ||
		m.ExternalURL != rcv.ExternalURL {
		t.Fatalf("message %+v", m)
	}
	if f := m.Alerts.Firing(); len(f) != 1 || f[0].Labels["target"] != "portal" || !f[0].EndsAt.IsZero() ||
		f[0].Fingerprint != fmt.Sprintf("%016x", firing.Fingerprint()) || f[0].GeneratorURL != rcv.ExternalURL || !f[0].StartsAt.Equal(start) {
		t.Fatalf("firing %+v", f)
	}
	if r := m.Alerts.Resolved(); len(r) != 1 || r[0].Status != "resolved" || !r[0].EndsAt.Equal(resolved.EndsAt) || r[0].Annotations["summary"] != "web down" {
		t.Fatalf("resolved %+v", r)
	}
	if id != "inc1-2" || !strings.Contains(string(body), `"incident":"inc1"`) {
		t.Fatalf("notification id %q; body %s", id, body)
	}
}

// A 429 with Retry-After says how long to wait.
func TestRetryAfterHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "12")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	retry, err := (&Receiver{URL: srv.URL}).Notify(context.Background(), &alerting.Notification{})
	if d, ok := notify.RetryAfter(err); !retry || !ok || d != 12*time.Second {
		t.Fatalf("retry %v, wait %s (%v)", retry, d, err)
	}
}
