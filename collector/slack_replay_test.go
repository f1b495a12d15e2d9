package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Issue 19 item 8: a playbook with an operator's approval, then an
// admin's, then an exec. An admin's signed click approves the first step;
// the identical request resent (before and after a collector restart)
// approves nothing and the exec does not run. The second step's own
// button, posted before the restart, still works after it. Slack is the
// SDK's test server; the clicks go through the real handler, signed with
// the real signing secret.
func TestSlackReplayDoesNotEscalate(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			mu.Lock()
			posts = append(posts, r.PostForm.Get("blocks"))
			n := len(posts)
			mu.Unlock()
			fmt.Fprintf(w, `{"ok":true,"channel":"C0CERT","ts":"1700000000.%06d"}`, n)
		})
	})
	srv.Start()
	defer srv.Stop()
	dir := t.TempDir()
	secret := "slack-signing-secret"
	os.WriteFile(filepath.Join(dir, "signing"), []byte(secret+"\n"), 0o600)
	t.Setenv("BULWARK_TEST_SLACK", "xoxb-test")
	marker := filepath.Join(dir, "failed-over")
	pb := filepath.Join(dir, "failover.yml")
	os.WriteFile(pb, []byte(`name: dns-failover
owner: cert-duty
triggers: [{manual: true}]
steps:
  - name: operator-ok
    approval: {role: operator, receiver: duty, prompt: "Prepare the failover?"}
  - name: admin-ok
    approval: {role: admin, receiver: duty, prompt: "Move the zone now?"}
  - name: move
    exec: {command: /usr/bin/touch, args: ["`+marker+`"]}
`), 0o600)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
users:
  - {id: otto, role: operator, token_sha256: %s}
  - {id: ada, role: admin, token_sha256: %s}
playbooks: {files: [%s], exec_allow: [/usr/bin/touch]}
alerting:
  slack_users: {U0OTTO: otto, U0ADA: ada}
  receivers:
    - name: duty
      slack: {token_env: BULWARK_TEST_SLACK, channel: C0CERT, api_url: %q, signing_secret_file: %s}
`, filepath.Join(dir, "data"), auth.Hash("otto-token"), auth.Hash("ada-token"), pb, srv.GetAPIURL(), filepath.Join(dir, "signing"))), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer func() { app.Stop(context.Background()) }()
	do := func(req *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type runView struct {
		ID, State string
		Version   int64
		Wait      *struct {
			Step string
			Done bool
		}
		Timeline []struct{ User, Action string }
	}
	get := func(app *collector.App, id string) runView {
		req, _ := http.NewRequest(http.MethodGet, "http://"+app.Addr()+"/api/v1/playbooks/runs/"+id, nil)
		req.Header.Set("Authorization", "Bearer otto-token")
		_, body := do(req)
		var v struct{ Data runView }
		json.Unmarshal([]byte(body), &v)
		return v.Data
	}
	waitStep := func(app *collector.App, id, step string) runView {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v := get(app, id)
			if v.State == "waiting" && v.Wait != nil && v.Wait.Step == step && !v.Wait.Done {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s never waited on %s: %+v", id, step, v)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	buttons := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			p := append([]string(nil), posts...)
			mu.Unlock()
			if len(p) >= n {
				return approveValues(t, p)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d questions posted, want %d", len(p), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	req, _ := http.NewRequest(http.MethodPost, "http://"+app.Addr()+"/api/v1/playbooks/dns-failover/run", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer otto-token")
	code, body := do(req)
	var started struct{ Data struct{ ID string } }
	json.Unmarshal([]byte(body), &started)
	if code != 200 || started.Data.ID == "" {
		t.Fatalf("run: %d %s", code, body)
	}
	id := started.Data.ID
	waitStep(app, id, "operator-ok")
	first := buttons(1)[0]

	// The admin approves the operator's step: one signed click, stamped
	// 20 s ago so that sending it now is the resend 20 s later.
	clickAt := time.Now().Add(-20 * time.Second)
	click := func(app *collector.App) (int, string) {
		return do(slackClick(t, "http://"+app.Addr(), secret, "U0ADA", "bulwark_approve", first, clickAt))
	}
	if code, body := click(app); code != 200 || !strings.Contains(body, "Step operator-ok approved by ada") {
		t.Fatalf("the admin's click: %d %s", code, body)
	}
	waitStep(app, id, "admin-ok")
	second := buttons(2)[1]

	// The identical request, resent 20 s later in the issue: refused as a replay.
	if code, body := click(app); code != http.StatusConflict || !strings.Contains(body, "accepted already") {
		t.Fatalf("the replayed click: %d %s", code, body)
	}
	// The collector restarts (its replay cache is gone); the same request
	// again, still within Slack's five minutes: the step it names is no
	// longer the one waiting, and the run's version moved.
	if err := app.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	app = startFromFile(t, cfgFile, "")
	v := waitStep(app, id, "admin-ok")
	if code, body := click(app); code != 200 || !strings.Contains(body, "Not done") || !strings.Contains(body, "not for the step the run waits on") {
		t.Fatalf("the replayed click after a restart: %d %s", code, body)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the exec ran after a replayed approval")
	}
	if got := get(app, id); got.State != "waiting" || got.Wait.Step != "admin-ok" || got.Wait.Done || got.Version != v.Version {
		t.Fatalf("the replay changed the run: %+v", got)
	}
	approvals := 0
	for _, e := range get(app, id).Timeline {
		if e.Action == "step.approved" {
			approvals++
		}
	}
	if approvals != 1 {
		t.Errorf("%d approvals recorded, want 1", approvals)
	}

	// The admin step's own button, asked before the restart: an operator
	// may not, the admin may, and then the exec runs.
	if code, body := do(slackClick(t, "http://"+app.Addr(), secret, "U0OTTO", "bulwark_approve", second, time.Now())); code != 200 || !strings.Contains(body, "needs the admin role") {
		t.Fatalf("an operator's click on the admin's step: %d %s", code, body)
	}
	if code, body := do(slackClick(t, "http://"+app.Addr(), secret, "U0ADA", "bulwark_approve", second, time.Now())); code != 200 || !strings.Contains(body, "Step admin-ok approved by ada") {
		t.Fatalf("the admin's click on the admin's step: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get(app, id).State != "succeeded" {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not finish: %+v", get(app, id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the exec did not run after both approvals: %v", err)
	}
	// Both refusals are in the audit log.
	req, _ = http.NewRequest(http.MethodGet, "http://"+app.Addr()+"/api/v1/audit", nil)
	req.Header.Set("Authorization", "Bearer ada-token")
	_, body = do(req)
	for _, want := range []string{`"slack.replay-refused"`, `"playbook.approve-refused"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the audit log lacks %s: %s", want, body)
		}
	}
}
