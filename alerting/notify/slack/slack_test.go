package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/slack-go/slack/slacktest"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// message is what the Slack test server received.
type message struct {
	method, channel, text, threadTS, ts string
	blocks                              []map[string]any
	metadata                            string
}

type slackServer struct {
	srv  *slacktest.Server
	mu   sync.Mutex
	msgs []message
	n    int
}

// newSlack is the SDK's own test server with handlers that record posts,
// thread replies and updates (its built-in handler records nothing).
func newSlack(t *testing.T, authError bool) *slackServer {
	s := &slackServer{}
	record := func(method string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if authError || r.Header.Get("Authorization") != "Bearer xoxb-test" && r.PostForm.Get("token") != "xoxb-test" {
				fmt.Fprint(w, `{"ok":false,"error":"invalid_auth"}`)
				return
			}
			var blocks []map[string]any
			json.Unmarshal([]byte(r.PostForm.Get("blocks")), &blocks)
			s.mu.Lock()
			s.n++
			ts := fmt.Sprintf("1700000000.%06d", s.n)
			if method == "update" {
				ts = r.PostForm.Get("ts")
			}
			s.msgs = append(s.msgs, message{method: method, channel: r.PostForm.Get("channel"), text: r.PostForm.Get("text"),
				threadTS: r.PostForm.Get("thread_ts"), ts: ts, blocks: blocks, metadata: r.PostForm.Get("metadata")})
			s.mu.Unlock()
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q}`, r.PostForm.Get("channel"), ts)
		}
	}
	s.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", record("post"))
		c.Handle("/chat.update", record("update"))
	})
	s.srv.Start()
	t.Cleanup(s.srv.Stop)
	return s
}

func (s *slackServer) messages() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message(nil), s.msgs...)
}

// An incident through the dispatcher into Slack: one message naming the
// shared cause, follow-ups in its thread, the first message edited to
// resolved.
func TestSlackIncidentThread(t *testing.T) {
	s := newSlack(t, false)
	rcv, err := New(Options{Token: "xoxb-test", Channel: "C0CERT", APIURL: s.srv.GetAPIURL(), ConsoleURL: "http://bulwark.example/", Interactive: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	d, err := alerting.NewDispatcher(alerting.DispatcherOptions{
		Routes:    []alerting.Route{{Receiver: "duty", GroupBy: []string{"classification"}}},
		Receivers: map[string]alerting.Receiver{"duty": rcv}, Log: &alerting.MemLog{},
		Cause: func(ts []string) *alerting.Cause {
			return &alerting.Cause{Layer: "dns", Provider: "cathaydns", Name: "Cathay DNS", Jurisdiction: "XC", Targets: ts}
		},
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	alert := func(tgt string) *alerting.Alert {
		return &alerting.Alert{Labels: labels.FromStrings("alertname", "ServiceDownEverywhere", "classification", "down-everywhere", "target", tgt),
			Annotations: labels.FromStrings("summary", tgt+" is down from every vantage point"), StartsAt: now}
	}
	a, b := alert("gas-transport"), alert("water-utility")
	ctx := context.Background()
	d.Add([]*alerting.Alert{a, b})
	now = now.Add(time.Minute)
	d.FlushDue(ctx)
	c := alert("heat-network")
	d.Add([]*alerting.Alert{a, b, c})
	now = now.Add(6 * time.Minute)
	d.FlushDue(ctx)
	for _, x := range []*alerting.Alert{a, b, c} {
		x.EndsAt = now
	}
	d.Add([]*alerting.Alert{a, b, c})
	now = now.Add(6 * time.Minute)
	d.FlushDue(ctx)
	ms := s.messages()
	if len(ms) != 4 {
		t.Fatalf("%d Slack calls, want post, reply, reply, update: %+v", len(ms), ms)
	}
	root := ms[0]
	if root.method != "post" || root.threadTS != "" || root.channel != "C0CERT" || !strings.Contains(root.text, "[FIRING] ServiceDownEverywhere: 2 services") {
		t.Errorf("first message: %+v", root)
	}
	blocks, _ := json.Marshal(root.blocks)
	for _, want := range []string{"Probable shared cause:* Cathay DNS (XC), dns layer, common to 2 of 2 services", "gas-transport", "http://bulwark.example/",
		`"action_id":"bulwark_ack"`, `"value":"{}/duty:{classification=\"down-everywhere\"}"`} {
		if !strings.Contains(string(blocks), want) {
			t.Errorf("first message's blocks lack %q: %s", want, blocks)
		}
	}
	if ms[1].method != "post" || ms[1].threadTS != root.ts || !strings.Contains(ms[1].text, "3 services") {
		t.Errorf("follow-up: %+v", ms[1])
	}
	if ms[2].method != "post" || ms[2].threadTS != root.ts || !strings.Contains(ms[2].text, "[RESOLVED]") {
		t.Errorf("resolution reply: %+v", ms[2])
	}
	if ms[3].method != "update" || ms[3].ts != root.ts || !strings.Contains(ms[3].text, "[RESOLVED]") {
		t.Errorf("first message not edited to resolved: %+v", ms[3])
	}
	var meta struct {
		EventType    string         `json:"event_type"`
		EventPayload map[string]any `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(root.metadata), &meta); err != nil || meta.EventType != MetadataEventType ||
		meta.EventPayload["id"] == "" || meta.EventPayload["id"] == nil {
		t.Errorf("first message's metadata %q: %v", root.metadata, err)
	}
	// The group fires again: a new incident, a new message (not a reply
	// under the one edited to resolved).
	now = now.Add(30 * time.Minute)
	d.Add([]*alerting.Alert{alert("gas-transport")})
	now = now.Add(time.Minute)
	d.FlushDue(ctx)
	ms = s.messages()
	if len(ms) != 5 || ms[4].method != "post" || ms[4].threadTS != "" || ms[4].metadata == root.metadata {
		t.Fatalf("second incident: %+v", ms[4:])
	}
}

// A refused token is not retried, and no error carries it.
func TestSlackErrors(t *testing.T) {
	s := newSlack(t, true)
	rcv, _ := New(Options{Token: "xoxb-secret-token", Channel: "C0CERT", APIURL: s.srv.GetAPIURL()})
	n := &alerting.Notification{Status: "firing", Alerts: []*alerting.Alert{{Labels: labels.FromStrings("alertname", "X", "target", "t")}}}
	retry, err := rcv.Notify(context.Background(), n)
	if retry || err == nil || !strings.Contains(err.Error(), "invalid_auth") || strings.Contains(err.Error(), "xoxb-secret-token") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	// Slack unreachable: retried, and the error says nothing secret.
	down, _ := New(Options{Token: "xoxb-secret-token", Channel: "C0CERT", APIURL: "http://127.0.0.1:1/api/"})
	retry, err = down.Notify(context.Background(), n)
	if !retry || err == nil || strings.Contains(err.Error(), "xoxb-secret-token") {
		t.Fatalf("unreachable: retry %v, err %v", retry, err)
	}
}

// An incoming webhook: the message arrives with its blocks; failures say
// whether to retry and never show the URL's secret path.
func TestSlackIncomingWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	status := http.StatusOK
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/services/T0CERT/B0DUTY/s3cretWebhookPath", func(w http.ResponseWriter, r *http.Request) {
			var m map[string]any
			json.NewDecoder(r.Body).Decode(&m)
			mu.Lock()
			defer mu.Unlock()
			got = append(got, m)
			w.WriteHeader(status)
		})
	})
	srv.Start()
	defer srv.Stop()
	hook := srv.GetAPIURL() + "services/T0CERT/B0DUTY/s3cretWebhookPath"
	rcv, err := New(Options{WebhookURL: hook})
	if err != nil {
		t.Fatal(err)
	}
	n := &alerting.Notification{Receiver: "duty", Status: "firing", Alerts: []*alerting.Alert{{
		Labels: labels.FromStrings("alertname", "ServiceDownEverywhere", "classification", "down-everywhere", "target", "tax-office"), StartsAt: time.Now()}}}
	if retry, err := rcv.Notify(context.Background(), n); err != nil {
		t.Fatalf("retry=%v err=%v", retry, err)
	}
	mu.Lock()
	if len(got) != 1 || got[0]["text"] != "[FIRING] ServiceDownEverywhere: 1 service" || got[0]["blocks"] == nil {
		t.Errorf("webhook received %v", got)
	}
	status = http.StatusInternalServerError
	mu.Unlock()
	if retry, err := rcv.Notify(context.Background(), n); err == nil || !retry || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("HTTP 500: retry=%v err=%v", retry, err)
	}
	srv.Stop()
	if retry, err := rcv.Notify(context.Background(), n); err == nil || !retry || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("server gone: retry=%v err=%v", retry, err)
	}
	if _, err := New(Options{WebhookURL: hook, Token: "xoxb", Channel: "C1"}); err == nil {
		t.Error("a token and a webhook URL at once were accepted")
	}
}

// Slack's 429 says how long to wait: the dispatcher waits that long.
func TestSlackRateLimitRetryAfter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "4")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	rcv, err := New(Options{Token: "xoxb-test", Channel: "C0CERT", APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := rcv.Notify(context.Background(), &alerting.Notification{Status: "firing", Alerts: []*alerting.Alert{{Labels: labels.FromStrings("alertname", "X")}}})
	if d, ok := notify.RetryAfter(err); !retry || !ok || d != 4*time.Second {
		t.Fatalf("retry %v, wait %s: %v", retry, d, err)
	}
}
