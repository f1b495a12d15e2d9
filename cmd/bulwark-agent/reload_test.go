package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every command prints its usage for --help and exits 0; flags may follow.
func TestAgentHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"probe", "-h"}, {"check", "--help"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(strings.ToLower(out.String()), "usage") {
			t.Errorf("%v: no usage on stdout: %q", args, out.String())
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The running agent: SIGHUP reloads (a bad file keeps the old
// configuration and the gauge says so) instead of killing it, and
// /debug/pprof/ is off unless asked for (issue 8).
func TestAgentSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bulwark-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	target := httpTarget(t)
	cfg := filepath.Join(dir, "agent.yml")
	good := "collector:\n  url: http://" + freeAddr(t) + "\nqueue:\n  dir: " + filepath.Join(dir, "queue") +
		"\ntargets:\n  - {id: portal, sector: government, url: '" + target + "', schedule: '@every 1s'}\n"
	os.WriteFile(cfg, []byte(good), 0o600)
	listen := freeAddr(t)
	cmd := exec.Command(bin, "run", "--config", cfg, "--web.listen-address", listen)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	metric := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, body := httpGet(t, "http://"+listen+"/metrics")
			if code == 200 && strings.Contains(body, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics never showed %q\nlog:\n%s", want, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	metric("bulwark_agent_config_last_reload_successful 1")
	if code, _ := httpGet(t, "http://"+listen+"/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("/debug/pprof/ without --web.enable-pprof: %d", code)
	}
	os.WriteFile(cfg, []byte(strings.Replace(good, "@every 1s", "every second", 1)), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	metric("bulwark_agent_config_last_reload_successful 0")
	os.WriteFile(cfg, []byte(good+"  - {id: portal-2, sector: government, url: '"+target+"', schedule: '@every 1s'}\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	metric("bulwark_agent_config_last_reload_successful 1")
	if !strings.Contains(logs.String(), "configuration reloaded") || !strings.Contains(logs.String(), "targets=2") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// httpTarget is a loopback HTTP server to probe.
func httpTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}
