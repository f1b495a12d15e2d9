package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// docFiles are the README and every page of docs/, whose commands the
// tests run: the README first, then the pages in name order.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs/*.md: %v (%d pages)", err, len(pages))
	}
	return append([]string{"../../README.md"}, pages...)
}

// readmeBlocks returns the fenced blocks of a language ("sh", "yaml", or
// "" for plain ones) of the README and of every page of docs/, in order.
// A block must start at the beginning of a line (an indented block, as in
// a list, is not read).
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	var blocks []string
	for _, f := range docFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cur *strings.Builder
		inside, curLang := false, ""
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case !inside && strings.HasPrefix(line, "```"):
				inside, curLang, cur = true, strings.TrimPrefix(line, "```"), &strings.Builder{}
			case inside && line == "```":
				if curLang == lang {
					blocks = append(blocks, cur.String())
				}
				inside = false
			case inside:
				cur.WriteString(line + "\n")
			}
		}
		if inside {
			t.Errorf("%s: a fenced block is not closed", f)
		}
	}
	return blocks
}

// bulwarkCommand returns the arguments of a command line that runs the
// bulwark binary, as the docs write it: bulwark, bin/bulwark (after make
// build) or go run ./cmd/bulwark.
func bulwarkCommand(fields []string) ([]string, bool) {
	switch {
	case len(fields) >= 3 && fields[0] == "go" && fields[1] == "run" && fields[2] == "./cmd/bulwark":
		return fields[3:], true
	case len(fields) >= 1 && (fields[0] == "bulwark" || fields[0] == "bin/bulwark"):
		return fields[1:], true
	}
	return nil, false
}

// Every bulwark command the README and docs/ show runs as shown, from the
// repository's root, against the docs' own configuration (paths under /etc
// and /var moved into a temporary directory; examples/collector.yml, whose
// data_dir is ./data, and the example's data directory are replaced by that
// configuration and its data directory, so the commands write nothing in
// the checkout); issue 8 asked that every README command be run by a test,
// issue 21 that the docs' be too. The demo's curl and whatif lines run in
// TestDemoEndToEnd; the agent's in cmd/bulwark-agent; `go run
// ./cmd/bulwark demo` is the demo test, `make test` is CI itself, `make
// build` builds what the commands run, and examples/collector.yml as
// written is checked by TestExampleConfigs.
func TestREADMECommands(t *testing.T) {
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	os.MkdirAll(etc, 0o700)
	for _, f := range []string{"abroad-1.token", "cert-duty.token", "ciso.token"} {
		os.WriteFile(filepath.Join(etc, f), []byte(strings.TrimSuffix(f, ".token")+"-secret\n"), 0o600)
	}
	os.WriteFile(filepath.Join(etc, "web.yml"), []byte("{}\n"), 0o600) // no TLS on loopback
	yamls := readmeBlocks(t, "yaml")
	var collectorYAML, securityYAML, alertingYAML string
	for _, y := range yamls {
		switch {
		case strings.HasPrefix(y, "listen:"):
			collectorYAML = y
		case strings.HasPrefix(y, "users:"):
			securityYAML = y
		case strings.HasPrefix(y, "alerting:"):
			alertingYAML = y
		}
	}
	if collectorYAML == "" || securityYAML == "" || alertingYAML == "" {
		t.Fatal("the docs lost their collector configuration, their users example or their alerting example")
	}
	t.Setenv("BULWARK_SLACK_TOKEN", "xoxb-readme")
	os.WriteFile(filepath.Join(etc, "soc-webhook.url"), []byte("http://127.0.0.1:1/hook\n"), 0o600)
	os.WriteFile(filepath.Join(etc, "soc-webhook.key"), []byte("hmac-key\n"), 0o600)
	os.WriteFile(filepath.Join(etc, "slack-hook.url"), []byte("http://127.0.0.1:1/services/T/B/x\n"), 0o600)
	os.WriteFile(filepath.Join(etc, "smtp.password"), []byte("smtp-secret\n"), 0o600)
	os.WriteFile(filepath.Join(etc, "heartbeat.url"), []byte("http://127.0.0.1:1/ping\n"), 0o600)
	paths := strings.NewReplacer("/etc/bulwark/", etc+"/", "/var/lib/bulwark", filepath.Join(dir, "data"),
		"/var/log/bulwark", dir, "127.0.0.1:9400", "127.0.0.1:0")
	cfgFile := filepath.Join(dir, "bulwark.yml")
	if err := os.WriteFile(cfgFile, []byte(paths.Replace(collectorYAML+securityYAML+alertingYAML)), 0o600); err != nil {
		t.Fatal(err)
	}
	// The other examples of the collector's configuration (drills, sinks,
	// playbooks, attribution) load with that configuration.
	others := 0
	for _, y := range yamls {
		if strings.HasPrefix(y, "drills:") || strings.HasPrefix(y, "sinks:") || strings.HasPrefix(y, "playbooks:") || strings.HasPrefix(y, "attribution:") {
			others++
			f := filepath.Join(dir, "drills.yml")
			os.WriteFile(f, []byte(paths.Replace(collectorYAML+y)), 0o600)
			if _, err := collectorconfig.Load(f); err != nil {
				t.Errorf("the docs' %s example: %v", strings.SplitN(y, ":", 2)[0], err)
			}
		}
	}
	if others < 4 {
		t.Errorf("found %d of the docs' drills, sinks, playbooks and attribution examples, want 4", others)
	}
	// The collector the README's API commands talk to, from that configuration.
	cfg, err := collectorconfig.Load(cfgFile)
	if err != nil {
		t.Fatalf("the README's configuration: %v", err)
	}
	live := *cfg
	live.DataDir = filepath.Join(dir, "live")
	app, err := collector.New(collector.Options{Config: &live, ConfigFile: cfgFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	app.Start(ln)
	defer app.Stop(context.Background())

	// The audit commands pin the live collector's key: the README names it
	// under the data directory of the offline commands.
	os.MkdirAll(filepath.Join(dir, "data", "state"), 0o750)
	if pub, err := os.ReadFile(filepath.Join(live.DataDir, "state", "signing.pub")); err == nil {
		os.WriteFile(filepath.Join(dir, "data", "state", "signing.pub"), pub, 0o644)
	}
	args := strings.NewReplacer("examples/collector.yml", cfgFile, "--data data ", "--data "+filepath.Join(dir, "data")+" ",
		" data/state/", " "+filepath.Join(dir, "data", "state")+"/",
		"bulwark-audit.json", filepath.Join(dir, "bulwark-audit.json"), "bulwark-backup.tar.gz", filepath.Join(dir, "bulwark-backup.tar.gz"), "ciso.token", filepath.Join(etc, "ciso.token"),
		"op.token", filepath.Join(etc, "cert-duty.token"), "/var/lib/bulwark", filepath.Join(dir, "data"),
		"http://127.0.0.1:9400", "http://"+app.Addr())
	shBlocks, plainBlocks := readmeBlocks(t, "sh"), readmeBlocks(t, "")
	t.Chdir("../..") // the docs' relative paths (the .gov list and zone) are from the repository's root
	ran := 0
	for _, block := range shBlocks {
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			cmd, ok := bulwarkCommand(shellWords(args.Replace(line)))
			switch {
			case !ok || len(cmd) == 0:
				continue // make, curl, bin/bulwark-agent: run elsewhere (see above)
			case cmd[0] == "collector" || cmd[0] == "demo":
				continue // long-running: the collector above, and the demo test
			case strings.Contains(line, "DATA_DIR"):
				continue // the demo's own data directory: TestDemoEndToEnd
			}
			var out, errb bytes.Buffer
			if err := run(context.Background(), cmd, &out, &errb); err != nil {
				t.Errorf("docs: %s\n%v\n%s", strings.TrimSpace(line), err, errb.String())
			}
			ran++
		}
	}
	t.Logf("ran %d commands of the README and docs/", ran)
	if ran < 19 {
		t.Errorf("ran %d commands of the README and docs/, want at least 19", ran)
	}
	// The attrib lookup examples, output included.
	examples := 0
	for _, block := range plainBlocks {
		line, want, ok := strings.Cut(block, "\n")
		cmd, isBulwark := bulwarkCommand(strings.Fields(strings.TrimPrefix(line, "$ ")))
		if !strings.HasPrefix(line, "$ ") || !isBulwark || !ok {
			continue
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), cmd, &out, &errb); err != nil {
			t.Fatalf("docs: %s: %v", line, err)
		}
		examples++
		if out.String() != want {
			t.Errorf("docs: %s printed\n%s\nthe docs show\n%s", line, out.String(), want)
		}
	}
	if examples < 2 {
		t.Errorf("found %d attrib lookup examples in the docs, want 2", examples)
	}
}

// shellWords splits a command line as a shell would for the README's
// commands: words, "double" or 'single' quoted strings, and a trailing
// # comment.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	quote, started := rune(0), false
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, started = r, true
		case r == '#' && !started:
			return words
		case r == ' ' || r == '\t':
			if started {
				words = append(words, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if started {
		words = append(words, cur.String())
	}
	return words
}
