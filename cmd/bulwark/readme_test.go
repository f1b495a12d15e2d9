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

// readmeBlocks returns the README's fenced blocks of a language ("sh",
// "yaml", or "" for plain ones), in order.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
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
	return blocks
}

// Every bulwark command the README shows runs as shown, against the
// README's own configuration (paths under /etc and /var moved into a
// temporary directory, the .gov files of testdata for its CSV and zone);
// issue 8 asked that every README command be run by a test. The demo's
// curl and whatif lines run in TestDemoEndToEnd; the agent's in
// cmd/bulwark-agent; `go run ./cmd/bulwark demo` is the demo test and
// `make test` is CI itself.
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
		t.Fatal("the README lost its collector configuration, its users example or its alerting example")
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
	// The scheduled drills example loads with that configuration.
	for _, y := range yamls {
		if strings.HasPrefix(y, "drills:") || strings.HasPrefix(y, "sinks:") {
			f := filepath.Join(dir, "drills.yml")
			os.WriteFile(f, []byte(paths.Replace(collectorYAML+y)), 0o600)
			if _, err := collectorconfig.Load(f); err != nil {
				t.Errorf("the README's %s example: %v", strings.SplitN(y, ":", 2)[0], err)
			}
		}
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
	args := strings.NewReplacer("bulwark.yml", cfgFile, "current-full.csv", dotgovCSV, "gov.zone", dotgovZone,
		"bulwark-audit.json", filepath.Join(dir, "bulwark-audit.json"), "ciso.token", filepath.Join(etc, "ciso.token"),
		"op.token", filepath.Join(etc, "cert-duty.token"), "/var/lib/bulwark", filepath.Join(dir, "data"),
		"http://127.0.0.1:9400", "http://"+app.Addr())
	ran := 0
	for _, block := range readmeBlocks(t, "sh") {
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			fields := shellWords(args.Replace(line))
			if len(fields) < 2 {
				continue
			}
			switch {
			case fields[0] != "bulwark" && fields[0] != "bin/bulwark":
				continue // go, make, curl, bin/bulwark-agent: run elsewhere (see above)
			case fields[1] == "collector" || fields[1] == "demo":
				continue // long-running: the collector above, and the demo test
			case strings.Contains(line, "DATA_DIR"):
				continue // the demo's own data directory: TestDemoEndToEnd
			}
			var out, errb bytes.Buffer
			if err := run(context.Background(), fields[1:], &out, &errb); err != nil {
				t.Errorf("README: %s\n%v\n%s", strings.TrimSpace(line), err, errb.String())
			}
			ran++
		}
	}
	t.Logf("ran %d README commands", ran)
	if ran < 7 {
		t.Errorf("ran %d README commands, want at least 7", ran)
	}
	// The attrib lookup example, output included.
	examples := 0
	for _, block := range readmeBlocks(t, "") {
		cmd, want, ok := strings.Cut(block, "\n")
		if !strings.HasPrefix(cmd, "$ bulwark ") || !ok {
			continue
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), strings.Fields(strings.TrimPrefix(cmd, "$ bulwark ")), &out, &errb); err != nil {
			t.Fatalf("README: %s: %v", cmd, err)
		}
		examples++
		if out.String() != want {
			t.Errorf("README: %s printed\n%s\nthe README shows\n%s", cmd, out.String(), want)
		}
	}
	if examples == 0 {
		t.Error("the README's attrib lookup example was not found")
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
