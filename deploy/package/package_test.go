package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebianPackages builds both packages from this tree, installs them
// with dpkg on this machine, checks the shipped configuration with
// `bulwark check`, runs each unit's ExecStart as the package's user (no
// systemd in CI) until /-/ready answers, then purges them and finds
// nothing left but what Debian policy keeps (the system users).
func TestDebianPackages(t *testing.T) {
	msg := ""
	if _, err := exec.LookPath("dpkg"); err != nil {
		msg = "dpkg not found"
	} else if os.Geteuid() != 0 {
		msg = "installing packages needs root"
	} else if out, _ := exec.Command("dpkg-query", "-W", "-f", "${Status}", "bulwark").CombinedOutput(); strings.Contains(string(out), "installed") {
		msg = "a bulwark package is already installed on this machine: the test would replace it"
	}
	if msg != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root, _ := filepath.Abs("../..")
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/bulwark", "./cmd/bulwark-agent")
	build.Dir = root // the test's own build settings, so the build cache serves it (make package builds static binaries)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	debs, err := Build(root, bin, "0.0.0~test", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	info := run("dpkg-deb", "--info", debs[0])
	if !strings.Contains(info, "Package: bulwark") || !strings.Contains(info, "Depends: adduser") || !strings.Contains(info, "conffiles") {
		t.Errorf("bulwark control: %s", info)
	}
	t.Cleanup(func() {
		os.Remove("/etc/bulwark/agent.token")
		exec.Command("dpkg", "--purge", "bulwark", "bulwark-agent").Run()
	})
	run("dpkg", "-i", debs[0], debs[1])

	for _, u := range []string{"bulwark", "bulwark-agent"} {
		if _, err := user.Lookup(u); err != nil {
			t.Errorf("system user %s: %v", u, err)
		}
		st, err := os.Stat("/var/lib/" + u)
		if err != nil || st.Mode().Perm() != 0o750 {
			t.Errorf("/var/lib/%s: %v %v", u, err, st)
		}
	}
	if st, err := os.Stat("/etc/bulwark/bulwark.yml"); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("/etc/bulwark/bulwark.yml: %v %v (want 0640: its secrets are the service's only)", err, st)
	}
	if out := run("/usr/bin/bulwark", "check", "--config", "/etc/bulwark/bulwark.yml"); !strings.Contains(out, ": valid (") {
		t.Errorf("bulwark check of the shipped configuration: %s", out)
	}
	if !strings.Contains(run("dpkg-query", "-W", "-f", "${Conffiles}", "bulwark"), "/etc/bulwark/bulwark.yml") {
		t.Error("the configuration is not a conffile")
	}

	// The agent's token, as an operator would put it.
	os.WriteFile("/etc/bulwark/agent.token", []byte("agent-secret\n"), 0o640)
	if g, err := user.LookupGroup("bulwark-agent"); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			os.Chown("/etc/bulwark/agent.token", 0, gid)
		}
	}
	for _, c := range []struct{ unit, user, ready string }{
		{"bulwark.service", "bulwark", "http://127.0.0.1:9400/-/ready"},
		{"bulwark-agent.service", "bulwark-agent", "http://127.0.0.1:9401/-/ready"},
	} {
		start := execStart(t, "/lib/systemd/system/"+c.unit)
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", c.user, "--"}, start...)...)
		cmd.Dir = "/var/lib/" + c.user
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		logf := filepath.Join(t.TempDir(), "log")
		lf, _ := os.Create(logf)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(c.ready)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(logf)
				t.Fatalf("%s as %s did not become ready: %v\n%s", strings.Join(start, " "), c.user, err, b)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("%s: ExecStart as %s is ready", c.unit, c.user)
		cancel()
		cmd.Wait()
	}

	// Purge: nothing is left but the system users (Debian policy keeps them).
	os.Remove("/etc/bulwark/agent.token") // the operator's file, not the package's
	run("dpkg", "--purge", "bulwark", "bulwark-agent")
	for _, p := range []string{"/usr/bin/bulwark", "/usr/bin/bulwark-agent", "/etc/bulwark", "/etc/default/bulwark", "/etc/default/bulwark-agent",
		"/var/lib/bulwark", "/var/lib/bulwark-agent", "/lib/systemd/system/bulwark.service", "/lib/systemd/system/bulwark-agent.service",
		"/usr/share/doc/bulwark", "/usr/share/doc/bulwark-agent", "/usr/share/bulwark"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left after purge", p)
		}
	}
}

// execStart reads a unit's ExecStart, with its environment variables empty.
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	f, err := os.Open(unit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ExecStart="); ok {
			return strings.Fields(regexp.MustCompile(`\$\w+`).ReplaceAllString(v, ""))
		}
	}
	t.Fatalf("%s has no ExecStart", unit)
	return nil
}
