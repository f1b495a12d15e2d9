package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/demo"
)

func TestCheck(t *testing.T) {
	var out, errb bytes.Buffer
	t.Setenv("BULWARK_AGENT_TOKEN", "x")
	if err := run(context.Background(), []string{"check", "--config", "../../agent/agentconfig/testdata/good.yml"}, &out, &errb); err != nil {
		t.Fatalf("check good: %v", err)
	}
	if !strings.Contains(out.String(), "valid (2 targets)") {
		t.Fatalf("output %q", out.String())
	}
	err := run(context.Background(), []string{"check", "--config", "../../agent/agentconfig/testdata/invalid-schedule.yml"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "invalid-schedule.yml:7: targets[0].schedule") {
		t.Fatalf("check invalid: %v", err)
	}
}

// The agent runs on many small hosts: it must not pull in the collector,
// alerting or playbooks, nor the Prometheus server module.
func TestAgentImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/bulwarkhq/bulwark/collector", "github.com/bulwarkhq/bulwark/alerting",
			"github.com/bulwarkhq/bulwark/playbooks", "github.com/prometheus/prometheus/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("bulwark-agent imports %s", dep)
			}
		}
	}
}

// probe --once prints one row per check and fails when a probe fails.
func TestProbeOnce(t *testing.T) {
	w, err := demo.Start(demo.Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "collector:\n  url: http://127.0.0.1:9400\nnetwork:\n  resolver: %s\n  source_address: 127.200.0.1\n  ca_file: %s\ntargets:\n", w.DNS.Addr, w.RootsFile)
	for _, s := range w.Services {
		if s.ID == "grid-portal" || s.ID == "nuclear-safety" {
			fmt.Fprintf(&b, "  - id: %s\n    sector: %s\n    url: %s\n    timeout: 2s\n", s.ID, s.Sector, s.URL)
		}
	}
	cfg := filepath.Join(t.TempDir(), "agent.yml")
	os.WriteFile(cfg, []byte(b.String()), 0o644)
	var out, errb bytes.Buffer
	err = run(context.Background(), []string{"probe", "--config", cfg, "--once"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 probes failed") {
		t.Fatalf("probe from abroad: err %v\n%s", err, out.String())
	}
	for _, want := range []string{"grid-portal     http   ok", "nuclear-safety  http   FAIL", "4 probes, 2 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	run(context.Background(), []string{"probe", "--config", cfg, "--once", "--json", "--deps"}, &out, &errb)
	var rows []probeRow
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 6 {
		t.Fatalf("json: %v, %d rows\n%s", err, len(rows), out.String())
	}
}
