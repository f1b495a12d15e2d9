package alertmanager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// The retry decision follows the status code, and no error carries the
// URL's secrets.
func TestSendRetryAndRedaction(t *testing.T) {
	var code atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/secret-path/api/v2/alerts" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "wrong request", http.StatusNotFound)
			return
		}
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	s, err := New(Options{URLs: []string{"x"}, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	base := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/secret-path"
	alerts := []Alert{{Labels: map[string]string{"alertname": "X"}, StartsAt: time.Now()}}
	for _, c := range []struct {
		code  int
		retry bool
		ok    bool
	}{{200, false, true}, {500, true, false}, {503, true, false}, {429, true, false}, {400, false, false}, {401, false, false}} {
		code.Store(int32(c.code))
		retry, err := s.Send(context.Background(), base, alerts)
		if retry != c.retry || (err == nil) != c.ok {
			t.Errorf("HTTP %d: retry %v, err %v", c.code, retry, err)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret-path")) {
			t.Errorf("HTTP %d: error leaks the URL: %v", c.code, err)
		}
	}
	// A refused connection is worth retrying, and says nothing secret either.
	retry, err := s.Send(context.Background(), "http://user:hunter2@127.0.0.1:1/secret-path", alerts)
	if !retry || err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret-path") {
		t.Errorf("connection refused: retry %v, err %v", retry, err)
	}
	if got := notify.Redacted("https://hooks.example/services/T0/B0/SECRET?token=x"); got != "https://hooks.example/..." {
		t.Errorf("Redacted = %q", got)
	}
}

// A full queue drops the oldest batch, not the newest, and counts it.
func TestEnqueueDropsOldest(t *testing.T) {
	s, _ := New(Options{URLs: []string{"http://127.0.0.1:1"}})
	for i := range 70 {
		s.Enqueue([]Alert{{Labels: map[string]string{"n": string(rune('a' + i%26))}}})
	}
	if len(s.queue) != cap(s.queue) {
		t.Fatalf("queue holds %d of %d", len(s.queue), cap(s.queue))
	}
}
