package playbooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// env is what the example configuration offers.
func env() *step.Env {
	return &step.Env{Receivers: map[string]bool{"cert-duty": true, "soc": true},
		Roles:     map[string]bool{"viewer": true, "operator": true, "admin": true},
		ExecAllow: []string{"/usr/local/bin/renew-certificate"}}
}

// The shipped examples load, and use every kind of step between them.
func TestExamples(t *testing.T) {
	pbs, err := LoadGlobs([]string{"examples/*.yml"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if len(pbs) != 4 {
		t.Fatalf("%d example playbooks, want 4", len(pbs))
	}
	kinds := map[string]bool{}
	var walk func([]Step)
	walk = func(steps []Step) {
		for i := range steps {
			if k := steps[i].Kind(); k.Name != "" {
				kinds[k.Name] = true
			} else {
				kinds["parallel"] = true
			}
			walk(steps[i].Parallel)
		}
	}
	for _, pb := range pbs {
		walk(pb.Steps)
	}
	want := []string{"parallel"}
	for _, k := range step.Kinds() {
		want = append(want, k.Name)
	}
	for _, k := range want {
		if !kinds[k] {
			t.Errorf("no example uses a %s step", k)
		}
	}
}

// Bad playbooks are refused with file and line, and what is wrong.
func TestBadPlaybooks(t *testing.T) {
	for file, want := range map[string]string{
		"unknown-kind.yml":     `testdata/unknown-kind.yml:6: unknown key "reboot"`,
		"unknown-receiver.yml": `testdata/unknown-receiver.yml:6: steps[0].notify.receiver: no alerting receiver named "pager-duty"`,
		"unknown-role.yml":     `testdata/unknown-role.yml:7: steps[0].approval.role: no role "minister" (viewer, operator or admin)`,
		"exec-not-allowed.yml": `testdata/exec-not-allowed.yml:7: steps[0].exec.command: command "/bin/sh" is not in playbooks.exec_allow`,
		"cycle.yml":            `testdata/cycle.yml:11: recovery[0].on_failure: on_failure of step "a" leads back to step "a": a cycle`,
		// Issue 23: a step on_failure names must not also be on the success path.
		"recovery-in-steps.yml": `testdata/recovery-in-steps.yml:7: steps[0].on_failure: step "call-provider" runs on failure of step "failover", so it belongs under recovery:, not steps: (there it would also run on the success path)`,
		"recovery-unused.yml":   `testdata/recovery-unused.yml:8: recovery[0].name: recovery step "call-provider" is named by no on_failure: it would never run`,
		"template-error.yml":    `testdata/template-error.yml:8: steps[0].notify.text: template: 1: unclosed action`,
		"two-kinds.yml": `testdata/two-kinds.yml:3: triggers[0].schedule: cron "every day": expected exactly 5 fields, found 2: [every day]` + "\n" +
			`testdata/two-kinds.yml:5: steps[0]: a step is exactly one of notify, http, exec, wait_for, approval, checklist, parallel`,
	} {
		_, err := Load(filepath.Join("testdata", file), env())
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", file, err, want)
		}
	}
}

// Issue 23: check reads the secret files an http step names, so a missing
// one is refused with its line when checked, not when the step runs; a
// relative one is the playbook folder's.
func TestHeaderFileChecked(t *testing.T) {
	e := env()
	e.ReadSecret = func(path string) (string, error) { return configfile.Secret(path, "") }
	_, err := Load(filepath.Join("testdata", "header-file-missing.yml"), e)
	want := `testdata/header-file-missing.yml:8: steps[0].http.header_files.Authorization: header Authorization: read secret: open testdata/no-such.token: no such file or directory`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join("testdata", "header-file-missing.yml"))
	os.WriteFile(filepath.Join(dir, "pb.yml"), b, 0o600)
	os.WriteFile(filepath.Join(dir, "no-such.token"), []byte("Bearer t\n"), 0o600)
	pb, err := Load(filepath.Join(dir, "pb.yml"), e)
	if err != nil {
		t.Fatal(err)
	}
	if got := pb.Steps[0].Spec().(*step.HTTP).HeaderFiles["Authorization"]; got != filepath.Join(dir, "no-such.token") {
		t.Errorf("the header file is %q, want the playbook folder's", got)
	}
	// An empty token file is refused too.
	os.WriteFile(filepath.Join(dir, "no-such.token"), nil, 0o600)
	if _, err := Load(filepath.Join(dir, "pb.yml"), e); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an empty token file: %v", err)
	}
}

// Issue 23: the recovery steps of the examples are under recovery:, so a
// step that recovers never runs on the success path.
func TestExamplesRecoveryOnly(t *testing.T) {
	pbs, err := LoadGlobs([]string{"examples/*.yml"}, env())
	if err != nil {
		t.Fatal(err)
	}
	for _, pb := range pbs {
		for _, s := range pb.Steps {
			if pb.RecoveryOnly(s.Name) {
				t.Errorf("%s: step %s is on the success path and recovers", pb.Name, s.Name)
			}
		}
		if pb.Name == "portal-down-everywhere" && !pb.RecoveryOnly("call-provider") {
			t.Errorf("call-provider is not recovery-only")
		}
	}
}

// FuzzLoadPlaybook: whatever the file, loading answers a playbook or an
// error, never a panic.
func FuzzLoadPlaybook(f *testing.F) {
	for _, g := range []string{"examples/*.yml", "testdata/*.yml"} {
		files, _ := filepath.Glob(g)
		for _, name := range files {
			b, _ := os.ReadFile(name)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pb := &Playbook{env: env()}
		if err := configfile.Load("fuzz.yml", b, pb); err != nil {
			return
		}
		pb.Validate()
	})
}
