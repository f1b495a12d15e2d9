package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// Issue 11: an operator runs a playbook by hand from the command line,
// ticks its checklist, and reads its timeline.
func TestPlaybookCommands(t *testing.T) {
	dir := t.TempDir()
	pb := filepath.Join(dir, "drill.yml")
	os.WriteFile(pb, []byte("name: tabletop\nowner: planners\ntriggers: [{manual: true}]\ninputs: [{name: scenario, default: cdn-loss}]\n"+
		"steps:\n  - name: walk-through\n    checklist: {items: [roles called, runbook read]}\n"), 0o600)
	cfg := collectorconfig.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Playbooks.Files = []string{pb}
	base := liveCollector(t, cfg, map[string]auth.User{"op-token": {ID: "otto", Role: auth.RoleOperator}})
	tok := filepath.Join(dir, "op.token")
	os.WriteFile(tok, []byte("op-token\n"), 0o600)
	cmd := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(context.Background(), append(args, "--collector", base, "--token-file", tok), &out, &errb); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	if out := cmd("playbook", "list"); !strings.Contains(out, "tabletop") || !strings.Contains(out, "walk-through (checklist)") {
		t.Errorf("list: %s", out)
	}
	out := cmd("playbook", "run", "tabletop")
	id := strings.Fields(out)[1]
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out, "[ ] roles called") {
		if time.Now().After(deadline) {
			t.Fatalf("the run never waited on its checklist: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
		out = cmd("playbook", "show", id)
	}
	// Issue 23: the listing is numbered from 1; an item is ticked by its
	// number or its text; a miss says what the run waits for.
	if !strings.Contains(out, "  1. [ ] roles called\n  2. [ ] runbook read") || !strings.Contains(out, "bulwark playbook tick "+id+" N") {
		t.Errorf("show does not number the items: %s", out)
	}
	var o, e bytes.Buffer
	err := run(context.Background(), []string{"playbook", "tick", id, "0", "--collector", base, "--token-file", tok}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), `no item number 0: items are numbered from 1 to 2; checklist walk-through waits for: 1. "roles called"; 2. "runbook read"`) {
		t.Errorf("tick 0: %v", err)
	}
	if out := cmd("playbook", "tick", id, "1"); !strings.Contains(out, "1. [x] otto: roles called") {
		t.Errorf("tick 1: %s", out)
	}
	cmd("playbook", "tick", id, "runbook read")
	for !strings.Contains(out, ": succeeded") {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not succeed: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
		out = cmd("playbook", "show", id)
	}
	if !strings.Contains(out, "otto       step.ticked") || !strings.Contains(cmd("playbook", "runs"), id) {
		t.Errorf("timeline: %s", out)
	}
	// The timeline exports signed, and verifies against the collector's key.
	export := filepath.Join(dir, "run.json")
	cmd("playbook", "export", id, "--out", export)
	var vout, verr bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--key", filepath.Join(cfg.DataDir, "state", "signing.pub"), export}, &vout, &verr); err != nil ||
		!strings.Contains(vout.String(), "intact:") {
		t.Errorf("verify the run's export: %v %s", err, vout.String())
	}
}

// Issue 23: check passed an http step whose header file was missing (the
// step then failed when it ran); it is refused at its line now.
func TestCheckRefusesMissingHeaderFile(t *testing.T) {
	dir := t.TempDir()
	pb := filepath.Join(dir, "failover.yml")
	os.WriteFile(pb, []byte("name: failover\nowner: duty\ntriggers: [{manual: true}]\nsteps:\n  - name: call\n    http:\n"+
		"      url: https://hosting.example.gov/failover\n      header_files: {Authorization: "+filepath.Join(dir, "hosting.token")+"}\n"), 0o600)
	cfg := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfg, []byte("data_dir: "+filepath.Join(dir, "data")+"\nplaybooks:\n  files: ["+pb+"]\n"), 0o600)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", cfg}, &out, &errb)
	if want := pb + ":8: steps[0].http.header_files.Authorization: header Authorization: read secret: open " + filepath.Join(dir, "hosting.token"); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("check with a missing header file: %v\nwant %s", err, want)
	}
	os.WriteFile(filepath.Join(dir, "hosting.token"), []byte("Bearer t\n"), 0o600)
	if err := run(context.Background(), []string{"check", "--config", cfg}, &out, &errb); err != nil {
		t.Fatalf("check with the header file there: %v", err)
	}
}
