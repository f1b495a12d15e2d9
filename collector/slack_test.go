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
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// slackRequest is a Slack interactivity request for a click on
// Acknowledge, signed with secret as Slack signs them.
func slackRequest(t *testing.T, base, secret, user, groupKey string, at time.Time) *http.Request {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]string{"id": user},
		"actions": []map[string]string{{"action_id": "bulwark_ack", "block_id": "bulwark_actions", "value": groupKey, "type": "button"}}})
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
	key := `0/duty:{alertname="ServiceDownEverywhere"}`
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
