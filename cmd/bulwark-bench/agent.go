package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serveTarget is the probed service: a tiny HTTP server in its own
// process, so its CPU is not counted against either prober.
func serveTarget(ctx context.Context, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><body>ok</body></html>"))
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// proc is a benchmarked child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs bytes.Buffer
}

func (p *proc) engine() *engine { return &engine{name: p.name, cmd: p.cmd} }

func (p *proc) stop() { p.engine().stop() }

func startTargetServer(ctx context.Context) (*proc, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	p := &proc{name: "target", cmd: exec.CommandContext(ctx, self, "serve")}
	stdout, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		return nil, "", err
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		p.stop()
		return nil, "", fmt.Errorf("target server: %w", err)
	}
	return p, strings.TrimSpace(addr), nil
}

// metricValue sums the samples of name (with an optional label filter) in
// a Prometheus text exposition.
func metricValue(text, name, filter string) float64 {
	sum := 0.0
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, name) || (filter != "" && !strings.Contains(l, filter)) {
			continue
		}
		rest := l[len(name):]
		if rest != "" && rest[0] != '{' && rest[0] != ' ' {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func fetch(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// runAgent starts a collector and an agent with n targets on schedule,
// lets it run for d, and returns the agent's metrics text, its CPU time
// over the last part of the run and its RSS.
type agentRun struct {
	probes, cpuSeconds float64
	rss                int64
	p99Bound           string
	metrics            string
}

func runAgent(ctx context.Context, o options, targetAddr string, n int, schedule string, d, warmup time.Duration, profile string) (agentRun, error) {
	var res agentRun
	col, err := startEngine(ctx, "bulwark", o)
	if err != nil {
		return res, err
	}
	defer col.stop()
	dir := filepath.Join(o.dir, fmt.Sprintf("agent-%d-%s", n, strings.ReplaceAll(schedule, " ", "")))
	os.MkdirAll(dir, 0o755)
	var b strings.Builder
	fmt.Fprintf(&b, "collector:\n  url: %s\n  token_env: BULWARK_BENCH_TOKEN\nqueue:\n  dir: %s\ndefaults:\n  schedule: %q\n  timeout: 5s\n  deps_schedule: \"off\"\ntargets:\n",
		col.base, filepath.Join(dir, "queue"), schedule)
	sectors := []string{"energy", "finance", "government"}
	for i := range n {
		fmt.Fprintf(&b, "  - id: service-%05d\n    sector: %s\n    url: http://%s/s/%d\n", i, sectors[i%3], targetAddr, i)
	}
	cfg := filepath.Join(dir, "agent.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return res, err
	}
	metricsAddr, _ := freeAddr()
	p := &proc{name: "agent", cmd: exec.CommandContext(ctx, filepath.Join(filepath.Dir(o.bulwark), "bulwark-agent"), "run",
		"--config", cfg, "--web.listen-address", metricsAddr, "--log.level", "warn")}
	p.cmd.Env = append(os.Environ(), "BULWARK_BENCH_TOKEN="+benchToken)
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	if err := p.cmd.Start(); err != nil {
		return res, err
	}
	defer p.stop()
	e := p.engine()
	time.Sleep(warmup)
	m0, _ := fetch("http://" + metricsAddr + "/metrics")
	cpu0, _ := e.cpu()
	if profile != "" {
		if err := saveProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", metricsAddr, int(d.Seconds())), profile); err != nil {
			return res, err
		}
		if err := saveProfile(ctx, "http://"+metricsAddr+"/debug/pprof/allocs", profile+".allocs"); err != nil {
			return res, err
		}
	} else {
		time.Sleep(d)
	}
	m1, err := fetch("http://" + metricsAddr + "/metrics")
	if err != nil {
		return res, fmt.Errorf("agent metrics: %w (%s)", err, p.logs.String())
	}
	cpu1, _ := e.cpu()
	res.rss = e.rss()
	res.metrics = m1
	res.probes = metricValue(m1, "bulwark_agent_probes_total", "") - metricValue(m0, "bulwark_agent_probes_total", "")
	res.cpuSeconds = (cpu1 - cpu0).Seconds()
	// p99 of start lateness, as the histogram bucket that holds it.
	total := metricValue(m1, "bulwark_agent_schedule_lateness_seconds_count", "")
	res.p99Bound = "?"
	for _, le := range []string{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "5", "+Inf"} {
		if metricValue(m1, "bulwark_agent_schedule_lateness_seconds_bucket", `le="`+le+`"`) >= 0.99*total {
			res.p99Bound = "≤ " + le + " s"
			break
		}
	}
	return res, nil
}

// saveProfile fetches a profile from the agent's pprof handler and writes
// it to file.
func saveProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("agent profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("agent profile: %w", err)
	}
	return f.Close()
}

// driveBlackbox probes the target through blackbox_exporter's /probe for d
// with conns concurrent requests: at full load, or paced to rate probes a
// second when rate > 0.
func driveBlackbox(ctx context.Context, o options, targetAddr string, d time.Duration, conns int, rate float64) (probes, cpuSeconds float64, rss int64, err error) {
	addr, _ := freeAddr()
	dir := filepath.Join(o.dir, "blackbox")
	os.MkdirAll(dir, 0o755)
	cfg := filepath.Join(dir, "blackbox.yml")
	os.WriteFile(cfg, []byte("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n"), 0o644)
	p := &proc{name: "blackbox", cmd: exec.CommandContext(ctx, "prometheus-blackbox-exporter", "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=warn")}
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	if err := p.cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer p.stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := fetch("http://" + addr + "/-/healthy"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("blackbox not healthy: %s", p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	url := "http://" + addr + "/probe?module=http_2xx&target=http://" + targetAddr + "/s/1"
	e := p.engine()
	cpu0, _ := e.cpu()
	var ok, failed atomic.Int64
	begin := time.Now()
	stop := begin.Add(d)
	var wg sync.WaitGroup
	for w := range conns {
		client := &http.Client{Timeout: 10 * time.Second}
		wg.Go(func() {
			for k := 0; time.Now().Before(stop) && ctx.Err() == nil; k++ {
				if rate > 0 { // worker w sends probes w, w+conns, w+2*conns, ... on time
					at := begin.Add(time.Duration(float64(k*conns+w) / rate * float64(time.Second)))
					if !at.Before(stop) {
						break
					}
					time.Sleep(time.Until(at))
				}
				body, err := func() (string, error) {
					resp, err := client.Get(url)
					if err != nil {
						return "", err
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					return string(b), err
				}()
				if err == nil && strings.Contains(body, "\nprobe_success 1") {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	cpu1, _ := e.cpu()
	if failed.Load() > 0 {
		return 0, 0, 0, fmt.Errorf("blackbox: %d failed probes", failed.Load())
	}
	return float64(ok.Load()), (cpu1 - cpu0).Seconds(), e.rss(), nil
}

func benchAgent(ctx context.Context, o options, out io.Writer) error {
	ts, targetAddr, err := startTargetServer(ctx)
	if err != nil {
		return err
	}
	defer ts.stop()
	fmt.Fprintf(out, "Agent: HTTP probes of one loopback target server (its own process).\nMachine: %s\n\n", machine())

	// Probes per CPU-second, side by side: both at full load, then both at
	// the same rate (the agent's targets on a 5 s schedule). A Go prober
	// below full load pays more per probe for threads that sleep and wake.
	fmt.Fprintln(out, "| load | prober | how driven | probes | CPU seconds | probes per CPU-second | RSS |")
	fmt.Fprintln(out, "|---|---|---|---:|---:|---:|---:|")
	for _, run := range []struct {
		load     string
		rate     float64 // blackbox's probes a second, 0: full load
		schedule string  // the agent's
	}{
		{"full", 0, "@every 1s"},
		{fmt.Sprintf("%d/s", o.targets/5), float64(o.targets) / 5, "@every 5s"},
	} {
		bbProbes, bbCPU, bbRSS, err := driveBlackbox(ctx, o, targetAddr, o.loadFor, 8, run.rate)
		if err != nil {
			return err
		}
		profile := ""
		if run.rate == 0 {
			profile = o.cpuProfile
		}
		a, err := runAgent(ctx, o, targetAddr, o.targets, run.schedule, o.loadFor, 10*time.Second, profile)
		if err != nil {
			return err
		}
		how := "/probe at full load, 8 connections"
		if run.rate > 0 {
			how = fmt.Sprintf("/probe paced at %.0f a second, 8 connections", run.rate)
		}
		fmt.Fprintf(out, "| %s | blackbox_exporter 0.23 | %s, %s | %.0f | %.2f | %.0f | %d MB |\n",
			run.load, how, o.loadFor, bbProbes, bbCPU, bbProbes/bbCPU, bbRSS>>20)
		fmt.Fprintf(out, "| %s | bulwark-agent | %d targets %s, %s, probes queued on disk and pushed | %.0f | %.2f | %.0f | %d MB |\n",
			run.load, o.targets, run.schedule, o.loadFor, a.probes, a.cpuSeconds, a.probes/a.cpuSeconds, a.rss>>20)
		fmt.Fprintf(out, "| %s | ratio | | | | %.1f× | |\n", run.load, (a.probes/a.cpuSeconds)/(bbProbes/bbCPU))
	}
	fmt.Fprintln(out)

	// Memory and schedule accuracy at @every 60s.
	steady, err := runAgent(ctx, o, targetAddr, o.targets, "@every 60s", o.duration-60*time.Second, 60*time.Second, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "| %d targets @every 60s, measured over %s after a 60s warm-up | value |\n|---|---:|\n", o.targets, o.duration-60*time.Second)
	fmt.Fprintf(out, "| probes run | %.0f |\n| agent CPU seconds | %.2f |\n| resident memory (RSS) | %d MB |\n| Go heap in use | %.1f MB |\n| p99 start lateness (histogram bucket) | %s |\n",
		steady.probes, steady.cpuSeconds, steady.rss>>20, metricValue(steady.metrics, "go_memstats_heap_inuse_bytes", "")/(1<<20), steady.p99Bound)
	return nil
}
