package main

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
)

// Issue 19 item 12, as reported: exec_allow [ok.sh, ./bin/ok.sh] passed
// bulwark check. Both are refused, with their lines.
func TestCheckRefusesRelativeExecAllow(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfg, []byte("data_dir: "+filepath.Join(dir, "data")+"\nplaybooks:\n  exec_allow: [ok.sh, ./bin/ok.sh]\n"), 0o600)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", cfg}, &out, &errb)
	for _, want := range []string{`:3: playbooks.exec_allow[0]: command "ok.sh" must be an absolute, clean path`,
		`:3: playbooks.exec_allow[1]: command "./bin/ok.sh" must be an absolute, clean path`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check: %v\nwant %s", err, want)
		}
	}
}

// Issue 19 item 8: `bulwark playbook approve RUN` names the step it
// approves and the run's version it saw (so the request, sent again,
// cannot approve the step after it); --step names it without a look-up.
func TestPlaybookApproveNamesStep(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		fmt.Fprint(w, `{"status":"success","data":{"id":"failover-1","playbook":"failover","state":"waiting","version":7,"wait":{"step":"admin-ok","kind":"approval","role":"admin"}}}`)
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("ada-token\n"), 0o600)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"playbook", "approve", "failover-1", "--collector", srv.URL, "--token-file", tok}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"playbook", "approve", "failover-1", "--step", "op-ok", "--collector", srv.URL, "--token-file", tok}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 3 || !strings.HasPrefix(bodies[0], "GET /api/v1/playbooks/runs/failover-1") {
		t.Fatalf("requests: %q", bodies)
	}
	var first, second map[string]any
	json.Unmarshal([]byte(strings.SplitN(bodies[1], " ", 3)[2]), &first)
	json.Unmarshal([]byte(strings.SplitN(bodies[2], " ", 3)[2]), &second)
	if first["step"] != "admin-ok" || first["version"] != float64(7) {
		t.Errorf("approve without --step sent %v", first)
	}
	if second["step"] != "op-ok" || second["version"] != nil {
		t.Errorf("approve --step sent %v", second)
	}
}
