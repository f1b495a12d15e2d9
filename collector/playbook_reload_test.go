package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Issue 23: POST /-/reload answered success but did not load a new
// playbook file. A reload loads new and changed playbook files; an
// invalid one refuses the reload, said so, and the old set stays.
func TestReloadPlaybooks(t *testing.T) {
	dir := t.TempDir()
	pbDir := filepath.Join(dir, "playbooks")
	os.Mkdir(pbDir, 0o700)
	playbook := func(name, text string) {
		os.WriteFile(filepath.Join(pbDir, name+".yml"), []byte("name: "+name+"\nowner: duty\ntriggers: [{manual: true}]\n"+
			"steps:\n  - name: tell\n    notify: {receiver: duty, text: "+text+"}\n"), 0o600)
	}
	playbook("first", "one")
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
users:
  - {id: ada, role: admin, token_sha256: %s}
alerting:
  receivers: [{name: duty, discard: true}]
playbooks:
  files: [%s]
`, filepath.Join(dir, "data"), auth.Hash("admin"), filepath.Join(pbDir, "*.yml"))), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	base := "http://" + app.Addr()
	do := func(method, path string, body ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(strings.Join(body, "")))
		req.Header.Set("Authorization", "Bearer admin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	list := func() []string {
		t.Helper()
		_, body := do("GET", "/api/v1/playbooks")
		var out struct {
			Data []struct{ Name, Description string }
		}
		json.Unmarshal([]byte(body), &out)
		var names []string
		for _, p := range out.Data {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		return names
	}
	if got := list(); !slices.Equal(got, []string{"first"}) {
		t.Fatalf("before the reload: %v", got)
	}
	playbook("second", "two")
	if code, body := do("POST", "/-/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := list(); !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("after the reload: %v, want the new file's playbook", got)
	}
	if code, body := do("POST", "/api/v1/playbooks/second/run", "{}"); code != 200 {
		t.Errorf("run the new playbook: %d %s", code, body)
	}
	// An invalid file refuses the whole reload, with its line.
	bad := filepath.Join(pbDir, "third.yml")
	os.WriteFile(bad, []byte("name: third\nowner: duty\ntriggers: [{manual: true}]\nsteps:\n  - name: tell\n    notify: {receiver: pager, text: x}\n"), 0o600)
	code, body := do("POST", "/-/reload")
	if code != 500 || !strings.Contains(body, bad+`:6: steps[0].notify.receiver: no alerting receiver named \"pager\"`) {
		t.Errorf("reload with an invalid playbook: %d %s", code, body)
	}
	if got := list(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("after a refused reload: %v, want the old set", got)
	}
	if _, metrics := do("GET", "/metrics"); !strings.Contains(metrics, "bulwark_config_last_reload_successful 0") {
		t.Errorf("the refused reload is not in the metrics")
	}
	// Removed and fixed: the set follows the files.
	os.Remove(bad)
	os.Remove(filepath.Join(pbDir, "first.yml"))
	if code, body := do("POST", "/-/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := list(); !slices.Equal(got, []string{"second"}) {
		t.Errorf("after removing a file: %v", got)
	}
	// A schedule of a playbook loaded by a reload runs.
	os.WriteFile(filepath.Join(pbDir, "weekly.yml"), []byte("name: weekly\nowner: duty\ntriggers:\n  - schedule: '@every 1s'\n"+
		"steps:\n  - name: look\n    checklist: {items: [green]}\n"), 0o600)
	if code, body := do("POST", "/-/reload"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := do("GET", "/api/v1/playbooks/runs")
		if strings.Contains(body, `"playbook":"weekly"`) && strings.Contains(body, `"trigger":"schedule"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the schedule of the reloaded playbook never ran: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
