package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// engine is one storage server under test, running as its own process.
type engine struct {
	name     string
	cmd      *exec.Cmd
	base     string // http://addr
	writeURL string
	token    string
	logs     bytes.Buffer
}

const benchToken = "bench-token"

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startEngine(ctx context.Context, name string, o options) (*engine, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	e := &engine{name: name, base: "http://" + addr, writeURL: "http://" + addr + "/api/v1/write"}
	switch name {
	case "bulwark":
		// One agent token over -conns connections: allow them all at once.
		cfg := fmt.Sprintf("listen: %s\ndata_dir: %s\nlimits: {max_requests_per_agent: %d}\nagents:\n  - id: bench\n    vantage: home\n    token_sha256: %s\n",
			addr, filepath.Join(dir, "data"), max(o.conns, 4), auth.Hash(benchToken))
		cfgFile := filepath.Join(dir, "bulwark.yml")
		if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
			return nil, err
		}
		e.cmd = exec.CommandContext(ctx, o.bulwark, "collector", "--config", cfgFile, "--log.level", "warn")
		e.token = benchToken
	case "prometheus":
		cfgFile := filepath.Join(dir, "prometheus.yml")
		if err := os.WriteFile(cfgFile, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
			return nil, err
		}
		e.cmd = exec.CommandContext(ctx, "prometheus", "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--log.level=warn")
	case "victoriametrics":
		e.cmd = exec.CommandContext(ctx, "victoria-metrics", "-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(dir, "data"),
			"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR")
	default:
		return nil, fmt.Errorf("unknown engine %q", name)
	}
	ready := e.base + "/-/ready"
	if name == "victoriametrics" {
		ready = e.base + "/health"
	}
	if err := e.start(ready); err != nil {
		return nil, err
	}
	return e, nil
}

// start runs e.cmd and waits up to 60 s for ready to answer 200.
func (e *engine) start(ready string) error {
	e.cmd.Stdout, e.cmd.Stderr = &e.logs, &e.logs
	if err := e.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", e.name, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			e.stop()
			return fmt.Errorf("%s not ready after 60s: %s", e.name, e.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *engine) stop() {
	if e.cmd.Process != nil {
		e.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { e.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			e.cmd.Process.Kill()
			<-done
		}
	}
}

// cpu returns the process's user+system CPU time so far.
func (e *engine) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", e.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// rss returns the process's resident memory in bytes.
func (e *engine) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", e.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func numCPU() int { return runtime.NumCPU() }
