package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/alerting"
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
