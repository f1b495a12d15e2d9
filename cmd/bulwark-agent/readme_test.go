package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/demo"
)

// The README's agent configuration passes `bulwark-agent check` as its
// README line runs it (paths under /etc and /var moved into a temporary
// directory).
func TestREADMEAgentConfig(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, rest, ok := strings.Cut(readme, "An agent configuration:\n\n```yaml\n")
	yml, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 || !strings.Contains(readme, "bin/bulwark-agent check --config agent.yml") {
		t.Fatal("the README lost its agent configuration or its check line")
	}
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	os.MkdirAll(etc, 0o700)
	os.WriteFile(filepath.Join(etc, "agent.token"), []byte("agent-secret\n"), 0o600)
	ca, _ := demo.NewCA("Bulwark Test CA", "Bulwark Test", "XA")
	os.WriteFile(filepath.Join(etc, "collector-ca.pem"), ca.PEM(), 0o600)
	yml = strings.NewReplacer("/etc/bulwark/", etc+"/", "/var/lib/bulwark-agent", filepath.Join(dir, "var")).Replace(yml)
	cfg := filepath.Join(dir, "agent.yml")
	os.WriteFile(cfg, []byte(yml), 0o600)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"check", "--config", cfg}, &out, &errb); err != nil {
		t.Fatalf("bulwark-agent check on the README's configuration: %v", err)
	}
	if !strings.Contains(out.String(), "valid (3 targets)") {
		t.Fatalf("check said %q", out.String())
	}
}

// Issue 21: the example agent configuration passes `bulwark-agent check`
// as docs/CONFIGURATION.md runs it, from the repository's root with the
// token in BULWARK_AGENT_TOKEN; without the token it says what is missing.
func TestExampleAgentConfig(t *testing.T) {
	t.Chdir("../..")
	var out, errb bytes.Buffer
	t.Setenv("BULWARK_AGENT_TOKEN", "")
	if err := run(context.Background(), []string{"check", "--config", "examples/agent.yml"}, &out, &errb); err == nil ||
		!strings.Contains(err.Error(), "BULWARK_AGENT_TOKEN is empty or unset") {
		t.Fatalf("check without the token: %v", err)
	}
	t.Setenv("BULWARK_AGENT_TOKEN", "try-me-home-1")
	if err := run(context.Background(), []string{"check", "--config", "examples/agent.yml"}, &out, &errb); err != nil {
		t.Fatalf("bulwark-agent check --config examples/agent.yml: %v", err)
	}
	if out.String() != "examples/agent.yml: valid (1 targets)\n" {
		t.Fatalf("check said %q", out.String())
	}
}
