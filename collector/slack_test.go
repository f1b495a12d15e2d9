package collector_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// slackRequest is a Slack interactivity request for a click on
// Acknowledge, signed with secret as Slack signs them.
func slackRequest(t *testing.T, base, secret, user, groupKey string, at time.Time) *http.Request {
	return slackClick(t, base, secret, user, "bulwark_ack", groupKey, at)
}

// slackClick is a signed click on the button of action with value.
func slackClick(t *testing.T, base, secret, user, action, value string, at time.Time) *http.Request {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]string{"id": user},
		"actions": []map[string]string{{"action_id": action, "block_id": "bulwark_actions", "value": value, "type": "button"}}})
	body := url.Values{"payload": {string(payload)}}.Encode()
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	return req
}

// Issue 9: the Acknowledge button. A signed click by a Slack user mapped to
// an operator acknowledges the incident and is audited; a forged or stale
// request is refused; an unmapped user is told why nothing happened.
func TestSlackAcknowledgeButton(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "signing"), []byte("slack-signing-secret\n"), 0o600)
	t.Setenv("BULWARK_TEST_SLACK", "xoxb-test")
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
users:
  - {id: otto, role: operator, token_sha256: %s}
  - {id: vera, role: viewer, token_sha256: %s}
alerting:
  slack_users: {U0OTTO: otto, U0VERA: vera}
  receivers:
    - name: duty
      slack: {token_env: BULWARK_TEST_SLACK, channel: C0CERT, api_url: "http://127.0.0.1:1/api/", signing_secret_file: %s}
  routes:
    - receiver: duty
`, filepath.Join(dir, "data"), auth.Hash("otto-token"), auth.Hash("vera-token"), filepath.Join(dir, "signing"))), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	base := "http://" + app.Addr()
	key := `{}/duty:{alertname="ServiceDownEverywhere"}`
	do := func(req *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do(slackRequest(t, base, "forged-secret", "U0OTTO", key, time.Now())); code != 401 {
		t.Fatalf("forged signature: %d", code)
	}
	if code, _ := do(slackRequest(t, base, "slack-signing-secret", "U0OTTO", key, time.Now().Add(-10*time.Minute))); code != 401 {
		t.Fatalf("stale request: %d", code)
	}
	if code, body := do(slackRequest(t, base, "slack-signing-secret", "U0VERA", key, time.Now())); code != 200 || !strings.Contains(body, "not an operator") {
		t.Fatalf("a viewer's click: %d %s", code, body)
	}
	if code, body := do(slackRequest(t, base, "slack-signing-secret", "U0NOBODY", key, time.Now())); code != 200 || !strings.Contains(body, "not mapped") {
		t.Fatalf("an unmapped user's click: %d %s", code, body)
	}
	if code, body := do(slackRequest(t, base, "slack-signing-secret", "U0OTTO", key, time.Now())); code != 200 || !strings.Contains(body, "Acknowledged by otto") {
		t.Fatalf("an operator's click: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer vera-token")
	if code, _ := do(req); code != 200 {
		t.Fatalf("incidents: %d", code)
	}
}

// Issue 11: an approval step asks a Slack channel with an Approve button;
// a click by a user without the step's role is refused, one by an
// operator approves and the run goes on. Slack is the SDK's test server.
func TestSlackApprovalButton(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			posts = append(posts, r.PostForm.Get("blocks"))
			mu.Unlock()
			fmt.Fprintf(w, `{"ok":true,"channel":"C0CERT","ts":"1700000000.%06d"}`, len(posts))
		})
	})
	srv.Start()
	defer srv.Stop()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "signing"), []byte("slack-signing-secret\n"), 0o600)
	t.Setenv("BULWARK_TEST_SLACK", "xoxb-test")
	pb := filepath.Join(dir, "failover.yml")
	os.WriteFile(pb, []byte(`name: dns-failover
owner: cert-duty
triggers: [{manual: true}]
steps:
  - name: go-ahead
    approval: {role: operator, receiver: duty, prompt: "Move the zone to the domestic provider?"}
`), 0o600)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
users:
  - {id: otto, role: operator, token_sha256: %s}
  - {id: vera, role: viewer, token_sha256: %s}
playbooks: {files: [%s]}
alerting:
  slack_users: {U0OTTO: otto, U0VERA: vera}
  receivers:
    - name: duty
      slack: {token_env: BULWARK_TEST_SLACK, channel: C0CERT, api_url: %q, signing_secret_file: %s}
`, filepath.Join(dir, "data"), auth.Hash("otto-token"), auth.Hash("vera-token"), pb, srv.GetAPIURL(), filepath.Join(dir, "signing"))), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	base := "http://" + app.Addr()
	do := func(req *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/playbooks/dns-failover/run", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer otto-token")
	code, body := do(req)
	var run struct{ Data struct{ ID, State string } }
	json.Unmarshal([]byte(body), &run)
	if code != 200 || run.Data.ID == "" {
		t.Fatalf("run: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		all := strings.Join(posts, "\n")
		mu.Unlock()
		if strings.Contains(all, `"action_id":"bulwark_approve"`) && strings.Contains(all, "Move the zone") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no approval question in Slack: %s", all)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	value := approveValues(t, posts)[0]
	mu.Unlock()
	if !strings.Contains(value, run.Data.ID) || !strings.Contains(value, `"step":"go-ahead"`) {
		t.Fatalf("the Approve button's value %s names not the run and its step", value)
	}
	if code, body := do(slackClick(t, base, "slack-signing-secret", "U0OTTO", "bulwark_approve", run.Data.ID, time.Now())); code != 200 || !strings.Contains(body, "older Bulwark") {
		t.Fatalf("a button naming only the run: %d %s", code, body)
	}
	if code, body := do(slackClick(t, base, "slack-signing-secret", "U0VERA", "bulwark_approve", value, time.Now())); code != 200 || !strings.Contains(body, "Not done") {
		t.Fatalf("a viewer's approval: %d %s", code, body)
	}
	if code, body := do(slackClick(t, base, "forged", "U0OTTO", "bulwark_approve", value, time.Now())); code != 401 {
		t.Fatalf("a forged approval: %d %s", code, body)
	}
	if code, body := do(slackClick(t, base, "slack-signing-secret", "U0OTTO", "bulwark_approve", value, time.Now().Add(time.Second))); code != 200 || !strings.Contains(body, "approved by otto") {
		t.Fatalf("an operator's approval: %d %s", code, body)
	}
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/playbooks/runs/"+run.Data.ID, nil)
		req.Header.Set("Authorization", "Bearer vera-token")
		_, body := do(req)
		if strings.Contains(body, `"state":"succeeded"`) {
			if !strings.Contains(body, "otto") {
				t.Errorf("the timeline does not name the approver: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not go on after the approval: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// approveValues are the values of the Approve buttons in posted blocks,
// in order.
func approveValues(t *testing.T, posts []string) []string {
	t.Helper()
	var out []string
	for _, p := range posts {
		var blocks []struct {
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			} `json:"elements"`
		}
		if err := json.Unmarshal([]byte(p), &blocks); err != nil {
			continue
		}
		for _, b := range blocks {
			for _, e := range b.Elements {
				if e.ActionID == "bulwark_approve" {
					out = append(out, e.Value)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Approve button in %q", posts)
	}
	return out
}
