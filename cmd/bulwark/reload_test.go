package main

import (
	"bytes"
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

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Issue 8: SIGHUP (systemd's reload signal) killed the collector silently.
// Now it reloads; a bad file keeps the old configuration.
func TestCollectorSIGHUP(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bulwark")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "bulwark.yml")
	good := "listen: " + addr + "\ndata_dir: " + filepath.Join(dir, "data") + "\nauth: {public_metrics: true}\nusers:\n" +
		"  - {id: vera, role: viewer, token_sha256: " + auth.Hash("vera-token") + "}\n"
	os.WriteFile(cfg, []byte(good), 0o600)
	cmd := exec.Command(bin, "collector", "--config", cfg)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(path, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if code, body := get(path, ""); code == 200 && strings.Contains(body, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never showed %q\nlog:\n%s", path, want, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("/-/ready", "Bulwark is ready")
	os.WriteFile(cfg, []byte(good+"  - {id: nora, role: viewer, token_sha256: "+auth.Hash("nora-token")+"}\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get("/api/v1/labels", "nora-token"); code != 200; code, _ = get("/api/v1/labels", "nora-token") {
		if time.Now().After(deadline) {
			t.Fatalf("the new user cannot read after SIGHUP: %d\nlog:\n%s", code, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.WriteFile(cfg, []byte(good+"  - {id: nora, role: emperor, token_sha256: "+auth.Hash("nora-token")+"}\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("/metrics", "bulwark_config_last_reload_successful 0")
	if code, _ := get("/api/v1/labels", "nora-token"); code != 200 {
		t.Fatalf("a bad file replaced the old configuration: %d", code)
	}
	if !strings.Contains(logs.String(), `role \"emperor\" must be viewer, operator or admin`) {
		t.Fatalf("the log does not say why:\n%s", logs.String())
	}
}
