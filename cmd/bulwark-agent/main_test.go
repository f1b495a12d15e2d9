package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	var out, errb bytes.Buffer
	t.Setenv("BULWARK_AGENT_TOKEN", "x")
	if err := run(context.Background(), []string{"check", "--config", "../../agent/config/testdata/good.yml"}, &out, &errb); err != nil {
		t.Fatalf("check good: %v", err)
	}
	if !strings.Contains(out.String(), "valid (2 targets)") {
		t.Fatalf("output %q", out.String())
	}
	err := run(context.Background(), []string{"check", "--config", "../../agent/config/testdata/invalid-schedule.yml"}, &out, &errb)
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
