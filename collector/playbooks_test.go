package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Issue 11: a firing alert starts its playbook once (not at every resend
// of the alert); the playbook notifies through a configured receiver,
// waits for an operator's approval given through the API, and succeeds;
// starting, approving and the kill switch follow the roles and are audited.
func TestPlaybooksThroughTheCollector(t *testing.T) {
	var mu sync.Mutex
	var told []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		told = append(told, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	dir := t.TempDir()
	rules := portalRule(t, dir)
	pb := filepath.Join(dir, "portal.yml")
	os.WriteFile(pb, []byte(`name: portal-down
owner: cert-duty
triggers:
  - alert: {alertname: PortalUnreachable}
  - manual: true
inputs: [{name: target, required: true}]
steps:
  - name: tell
    notify: {receiver: duty, text: "{{ .Inputs.target }} is unreachable"}
  - name: sign-off
    approval: {role: operator}
`), 0o600)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
users:
  - {id: otto, role: operator, token_sha256: %s}
  - {id: vera, role: viewer, token_sha256: %s}
  - {id: ada, role: admin, token_sha256: %s}
alerting:
  evaluation_interval: 1s
  rule_files: [%s]
  receivers: [{name: duty, webhook: {url: %q}}]
playbooks:
  files: [%s]
`, filepath.Join(dir, "data"), auth.Hash("op"), auth.Hash("view"), auth.Hash("admin"), rules, hook.URL, pb)), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	base := "http://" + app.Addr()
	call := func(method, path, token string, body any, out any) int {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(&struct{ Data any }{out})
		}
		return resp.StatusCode
	}
	type run struct {
		ID, State, Trigger string
		Wait               *struct{ Step, Kind string }
	}
	var runs []run
	deadline := time.Now().Add(30 * time.Second)
	for {
		call("GET", "/api/v1/playbooks/runs", "view", nil, &runs)
		if len(runs) == 1 && runs[0].State == "waiting" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the alert did not start its playbook, waiting, within 30s: %+v", runs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	id := runs[0].ID
	if runs[0].Trigger != "alert:PortalUnreachable" {
		t.Errorf("trigger %q", runs[0].Trigger)
	}
	if code := call("POST", "/api/v1/playbooks/runs/"+id+"/approve", "view", map[string]string{"comment": "ok", "step": "sign-off"}, nil); code != http.StatusConflict {
		t.Errorf("a viewer approved an operator's step: %d", code)
	}
	// Issue 19 item 8: an approval names its step (a resent one cannot
	// approve the step after it).
	if code := call("POST", "/api/v1/playbooks/runs/"+id+"/approve", "op", map[string]string{"comment": "checked"}, nil); code != http.StatusBadRequest {
		t.Errorf("an approval naming no step: %d", code)
	}
	if code := call("POST", "/api/v1/playbooks/runs/"+id+"/approve", "op", map[string]string{"comment": "checked", "step": "sign-off"}, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	if code := call("POST", "/api/v1/playbooks/runs/"+id+"/approve", "op", map[string]string{"comment": "checked", "step": "sign-off"}, nil); code != http.StatusConflict {
		t.Errorf("the same approval sent again: %d", code)
	}
	var got run
	for deadline = time.Now().Add(10 * time.Second); got.State != "succeeded"; time.Sleep(100 * time.Millisecond) {
		call("GET", "/api/v1/playbooks/runs/"+id, "view", nil, &got)
		if time.Now().After(deadline) {
			t.Fatalf("run %+v", got)
		}
	}
	time.Sleep(2 * time.Second) // more evaluations, more resends of the same alert
	call("GET", "/api/v1/playbooks/runs", "view", nil, &runs)
	if len(runs) != 1 {
		t.Errorf("%d runs for one alert", len(runs))
	}
	mu.Lock()
	if len(told) == 0 || !strings.Contains(told[0], "tax-portal is unreachable") {
		t.Errorf("the receiver was told %q", told)
	}
	mu.Unlock()
	// By hand, with roles; the kill switch is an admin's.
	if code := call("POST", "/api/v1/playbooks/portal-down/run", "view", map[string]any{"inputs": map[string]string{"target": "x"}}, nil); code != http.StatusForbidden {
		t.Errorf("a viewer started a playbook: %d", code)
	}
	if code := call("POST", "/api/v1/playbooks/kill", "op", map[string]bool{"on": true}, nil); code != http.StatusForbidden {
		t.Errorf("an operator used the kill switch: %d", code)
	}
	call("POST", "/api/v1/playbooks/kill", "admin", map[string]bool{"on": true}, nil)
	if code := call("POST", "/api/v1/playbooks/portal-down/run", "op", map[string]any{"inputs": map[string]string{"target": "x"}}, nil); code != http.StatusConflict {
		t.Errorf("a playbook started with the kill switch on: %d", code)
	}
	var log []struct{ User, Action string }
	call("GET", "/api/v1/audit", "admin", nil, &log)
	var actions []string
	for _, e := range log {
		actions = append(actions, e.User+":"+e.Action)
	}
	if strings.Join(actions, " ") != "ada:playbook.kill otto:playbook.approve-refused otto:playbook.approve" {
		t.Errorf("audit log: %v", actions)
	}
}

// A playbook with a schedule trigger starts at its times, once per time,
// as "schedule" (here every second: a cron descriptor).
func TestScheduledPlaybook(t *testing.T) {
	dir := t.TempDir()
	pb := filepath.Join(dir, "weekly.yml")
	os.WriteFile(pb, []byte("name: weekly-check\nowner: cert-duty\ntriggers:\n  - schedule: '@every 1s'\nsteps:\n  - name: look\n    checklist: {items: [the dashboards are green]}\n"), 0o600)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %s\nusers:\n  - {id: vera, role: viewer, token_sha256: %s}\nplaybooks: {files: [%s]}\n",
		filepath.Join(dir, "data"), auth.Hash("vera-token"), pb)), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+app.Addr()+"/api/v1/playbooks/runs", nil)
		req.Header.Set("Authorization", "Bearer vera-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var runs struct {
			Data []struct{ Playbook, Trigger, Key string }
		}
		json.NewDecoder(resp.Body).Decode(&runs)
		resp.Body.Close()
		keys := map[string]bool{}
		for _, r := range runs.Data {
			if r.Playbook != "weekly-check" || r.Trigger != "schedule" || keys[r.Key] {
				t.Fatalf("runs: %+v", runs.Data)
			}
			keys[r.Key] = true
		}
		if len(keys) >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled playbook did not start twice: %+v", runs.Data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
