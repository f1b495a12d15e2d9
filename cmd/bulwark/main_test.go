package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	var out, errb bytes.Buffer
	t.Setenv("BULWARK_TEST_ABROAD_TOKEN", "x")
	if err := run(context.Background(), []string{"check", "--config", "../../collector/collectorconfig/testdata/good.yml"}, &out, &errb); err != nil {
		t.Fatalf("check good: %v", err)
	}
	if !strings.Contains(out.String(), "valid (2 agents, 0 targets,") ||
		!strings.Contains(out.String(), "warning: storage.out_of_order_window 2h0m0s is shorter than the agents' default queue.max_age 24h0m0s") {
		t.Fatalf("output %q", out.String())
	}
	err := run(context.Background(), []string{"check", "--config", "../../collector/collectorconfig/testdata/invalid-listen.yml"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `invalid-listen.yml:1: listen: "9400" is not host:port`) {
		t.Fatalf("check invalid: %v", err)
	}
	if err := run(context.Background(), []string{"nope"}, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// check reports every error of a file with its line, not only the first (issue 8).
func TestCheckReportsEveryError(t *testing.T) {
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", "../../collector/collectorconfig/testdata/many-errors.yml"}, &out, &errb)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`many-errors.yml:1: listen: "nope" is not host:port`, "many-errors.yml:4: storage.retention: must be positive",
		`many-errors.yml:3: users[0].id: user id "A"`, `many-errors.yml:3: users[0].role: role "god"`, "many-errors.yml:3: users[0].token_sha256: is not 64 hex digits"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check lacks %q:\n%v", want, err)
		}
	}
}

// check validates the rule files a configuration names, with file and line (issue 9).
func TestCheckRuleFiles(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "bad.rules.yml")
	os.WriteFile(rules, []byte("groups:\n  - name: mine\n    rules:\n      - alert: Broken\n        expr: sum(\n"), 0o600)
	cfg := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfg, []byte("alerting:\n  rule_files: ["+rules+"]\n"), 0o600)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", cfg}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "bad.rules.yml: 5:") || !strings.Contains(err.Error(), "Broken") {
		t.Fatalf("check with a bad rule file: %v", err)
	}
	os.WriteFile(rules, []byte("groups:\n  - name: mine\n    rules:\n      - alert: PortalDown\n        expr: probe_success == 0\n"), 0o600)
	if err := run(context.Background(), []string{"check", "--config", cfg}, &out, &errb); err != nil || !strings.Contains(out.String(), "1 rule files") {
		t.Fatalf("check with a good rule file: %v %s", err, out.String())
	}
}

// Issue 11: check loads the playbooks against the configuration's
// receivers, roles and exec allow-list; a bad one is named with its line.
func TestCheckPlaybooks(t *testing.T) {
	examples, _ := filepath.Abs("../../playbooks/examples/*.yml")
	bad, _ := filepath.Abs("../../playbooks/testdata/unknown-receiver.yml")
	dir := t.TempDir()
	write := func(files ...string) string {
		cfg := filepath.Join(dir, "bulwark.yml")
		var list []string
		for _, f := range files {
			list = append(list, `"`+f+`"`)
		}
		os.WriteFile(cfg, []byte("data_dir: "+filepath.Join(dir, "data")+"\nalerting:\n  receivers:\n"+
			"    - {name: cert-duty, webhook: {url: 'https://hooks.cert.example/duty'}}\n"+
			"    - {name: soc, webhook: {url: 'https://hooks.cert.example/soc'}}\n"+
			"playbooks:\n  files: ["+strings.Join(list, ", ")+"]\n  exec_allow: [/usr/local/bin/renew-certificate]\n"), 0o600)
		return cfg
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"check", "--config", write(examples)}, &out, &errb); err != nil || !strings.Contains(out.String(), "4 playbooks)") {
		t.Fatalf("check with the examples: %v\n%s", err, out.String())
	}
	err := run(context.Background(), []string{"check", "--config", write(examples, bad)}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `unknown-receiver.yml:6: steps[0].notify.receiver: no alerting receiver named "pager-duty"`) {
		t.Fatalf("check with a bad playbook: %v", err)
	}
}
