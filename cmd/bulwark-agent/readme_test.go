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

// docs is the README and every page of docs/, as one text.
func docs(t *testing.T) string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs/*.md: %v (%d pages)", err, len(pages))
	}
	var all strings.Builder
	for _, f := range append([]string{"../../README.md"}, pages...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
		all.WriteString("\n")
	}
	return all.String()
}

// The docs' agent configuration (docs/CONFIGURATION.md) passes
// `bulwark-agent check` (paths under /etc and /var moved into a temporary
// directory).
func TestREADMEAgentConfig(t *testing.T) {
	text := docs(t)
	_, rest, ok := strings.Cut(text, "An agent configuration:\n\n```yaml\n")
	yml, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the docs lost their agent configuration")
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
		t.Fatalf("bulwark-agent check on the docs' configuration: %v", err)
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

// Every bulwark-agent command in a sh block of the README and docs/ runs
// as written, from the repository's root, with the environment its line
// sets (VAR=value before the command); `run` is long-running and runs, on
// the same example configuration, in cmd/bulwark's TestExampleConfigs.
func TestDocsAgentCommands(t *testing.T) {
	text := docs(t)
	t.Chdir("../..")
	ran := 0
	inside := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case !inside && line == "```sh":
			inside = true
			continue
		case inside && line == "```":
			inside = false
		}
		if !inside {
			continue
		}
		if c, _, ok := strings.Cut(line, "#"); ok {
			line = c
		}
		fields := strings.Fields(line)
		for len(fields) > 0 && strings.Contains(fields[0], "=") && !strings.HasPrefix(fields[0], "-") {
			k, v, _ := strings.Cut(fields[0], "=")
			t.Setenv(k, v)
			fields = fields[1:]
		}
		if len(fields) < 2 || (fields[0] != "bulwark-agent" && fields[0] != "bin/bulwark-agent") || fields[1] == "run" {
			continue
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), fields[1:], &out, &errb); err != nil {
			t.Errorf("docs: %s: %v\n%s", strings.TrimSpace(line), err, errb.String())
		}
		ran++
	}
	if ran == 0 {
		t.Error("no bulwark-agent command found in the docs")
	}
}
