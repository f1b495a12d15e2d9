package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// arrivals records when Slack-shaped messages arrived, by source.
type arrivals struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

func (a *arrivals) record(source string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen[source] = append(a.seen[source], time.Now())
}

// first is the first arrival from source after t.
func (a *arrivals) first(source string, t time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, at := range a.seen[source] {
		if at.After(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// count is the number of arrivals from source after t.
func (a *arrivals) count(source string, t time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, at := range a.seen[source] {
		if at.After(t) {
			n++
		}
	}
	return n
}

// benchAlertLatency measures detection-to-notification: from the probed
// service going down to a Slack test server (the SDK's slacktest)
// receiving the message, through Bulwark (agent -> collector -> built-in
// rule -> dispatcher -> Slack Web API) and through blackbox_exporter ->
// Prometheus -> Alertmanager (Slack incoming webhook), both probing the
// same service at the same interval and evaluating at the same interval,
// in the same run. Outages are spaced by a random fraction of the probe
// interval so they fall anywhere in its cycle.
func benchAlertLatency(ctx context.Context, o options, out io.Writer) error {
	probe, eval := o.probeInterval, o.evalInterval
	var down atomic.Bool
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("<html><body>ok</body></html>"))
	})}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go target.Serve(tl)
	defer target.Close()
	targetURL := "http://" + tl.Addr().String() + "/"

	got := &arrivals{seen: map[string][]time.Time{}}
	slackSrv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if strings.Contains(r.Form.Get("text"), "[FIRING]") {
				got.record("bulwark")
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"ok":true,"channel":"CBENCH","ts":"%d.000100"}`, time.Now().UnixNano())
		})
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true,"channel":"CBENCH","ts":"1.000100"}`))
		})
		c.Handle("/alertmanager-webhook", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if strings.Contains(string(body), "FIRING") {
				got.record("prometheus")
			}
			w.Write([]byte("ok"))
		})
	})
	slackSrv.Start()
	defer slackSrv.Stop()

	var hungURL string
	if o.hungReceiver {
		stopHung, url, err := startHungServer(o.hungAnswers)
		if err != nil {
			return err
		}
		defer stopHung()
		hungURL = url
	}
	stopAll, err := startBulwarkAlerting(ctx, o, targetURL, slackSrv.GetAPIURL(), hungURL)
	defer stopAll()
	if err != nil {
		return err
	}
	stopProm, err := startPrometheusAlerting(ctx, o, targetURL, slackSrv.GetAPIURL()+"alertmanager-webhook", hungURL)
	defer stopProm()
	if err != nil {
		return err
	}
	// Both pipelines see the service up before the first outage.
	time.Sleep(2*probe + 2*eval)

	lat := map[string][]time.Duration{}
	missed := map[string]int{}
	// With a hung receiver, a notification that never comes is counted
	// (and the run goes on) rather than ending the run: waitFor caps the
	// wait, hence the run's time.
	waitFor := 10 * (probe + eval)
	if o.hungReceiver {
		waitFor = o.hungWait
	}
	runStart := time.Now()
	for i := range o.outages {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Duration(rand.Int64N(int64(probe)))) // anywhere in the probe cycle
		t0 := time.Now()
		down.Store(true)
		deadline := t0.Add(waitFor)
		line := fmt.Sprintf("outage %d:", i+1)
		for _, src := range []string{"bulwark", "prometheus"} {
			for {
				if at, ok := got.first(src, t0); ok {
					lat[src] = append(lat[src], at.Sub(t0))
					line += fmt.Sprintf(" %s %v", src, at.Sub(t0).Round(time.Millisecond))
					break
				}
				if time.Now().After(deadline) {
					if !o.hungReceiver {
						return fmt.Errorf("outage %d: no notification through %s within %v", i+1, src, waitFor)
					}
					missed[src]++
					line += fmt.Sprintf(" %s none within %v", src, waitFor)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		down.Store(false)
		// A notification of an earlier outage arriving late would be taken
		// for this one's: the counts since the run began tell.
		fmt.Fprintf(os.Stderr, "%s (messages so far: bulwark %d, prometheus %d)\n", line, got.count("bulwark", runStart), got.count("prometheus", runStart))
		// Let both resolve before the next outage.
		time.Sleep(3*probe + 3*eval)
	}
	bound := probe + eval + time.Second
	hung := ""
	if o.hungReceiver {
		hung = "; a second receiver (a webhook that never answers) gets every alert too"
		if o.hungAnswers {
			hung = "; a second receiver (a webhook answering at once: control) gets every alert too"
		}
	}
	fmt.Fprintf(out, "Detection-to-notification latency, %d outages, probe interval %v, evaluation interval %v (target p99 ≤ %v)%s; %s\n\n",
		o.outages, probe, eval, bound, hung, machine())
	fmt.Fprintln(out, "| pipeline | p50 | p99 | max | notified | within target |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---|")
	for _, src := range []struct{ key, name string }{{"bulwark", "Bulwark: agent → collector → built-in rule → dispatcher → Slack API"},
		{"prometheus", "blackbox_exporter → Prometheus → Alertmanager → Slack webhook"}} {
		fmt.Fprintf(out, "| %s | %s |\n", src.name, latencyCells(lat[src.key], missed[src.key], waitFor, bound))
	}
	if o.hungReceiver {
		fmt.Fprintf(out, "\nFIRING messages received in the run: Bulwark %d, Prometheus %d (one per outage notified in time).\n",
			got.count("bulwark", runStart), got.count("prometheus", runStart))
	}
	return nil
}

// latencyCells renders p50, p99, max and whether p99 is within bound; an
// outage never notified within waitFor counts as longer than any, so a
// quantile that falls on it reads "> waitFor".
func latencyCells(d []time.Duration, missed int, waitFor, bound time.Duration) string {
	slices.Sort(d)
	all := append(slices.Clone(d), slices.Repeat([]time.Duration{-1}, missed)...)
	cell := func(q float64) string {
		if len(all) == 0 {
			return "–"
		}
		v := quantile(all, q)
		if v < 0 {
			return fmt.Sprintf("> %.0f s", waitFor.Seconds())
		}
		return fmt.Sprintf("%.2f s", v.Seconds())
	}
	within := len(all) > 0 && quantile(all, 0.99) >= 0 && quantile(all, 0.99) <= bound
	return fmt.Sprintf("%s | %s | %s | %d of %d | %v", cell(0.5), cell(0.99), cell(1), len(d), len(all), within)
}

// quantile of sorted d, nearest rank.
func quantile(d []time.Duration, q float64) time.Duration {
	i := int(float64(len(d))*q+0.999999) - 1
	return d[max(0, min(i, len(d)-1))]
}

// startBulwarkAlerting runs a collector whose built-in rules page through
// Slack at once (down_for 0s, a quorum of the one agent) and an agent
// probing the target.
func startBulwarkAlerting(ctx context.Context, o options, targetURL, slackAPI, hungURL string) (func(), error) {
	dir := filepath.Join(o.dir, "latency-bulwark")
	os.MkdirAll(dir, 0o755)
	addr, _ := freeAddr()
	cfg := fmt.Sprintf(`listen: %s
data_dir: %s
agents:
  - {id: bench, vantage: home, token_sha256: %s}
alerting:
  evaluation_interval: %s
  builtin: {down_for: 0s, quorum_agents: 1}
  receivers:
    - name: duty
      slack: {token_env: BULWARK_BENCH_SLACK_TOKEN, channel: CBENCH, api_url: %q}
    - name: rest
      discard: true
  routes:
    - receiver: duty
      match: {alertname: ServiceDownEverywhere}
      group_wait: 1ms
      group_interval: 1s
      repeat_interval: 1h
    - receiver: rest # the catch-all a routing tree needs: the other alerts go nowhere
`, addr, filepath.Join(dir, "data"), auth.Hash(benchToken), o.evalInterval, slackAPI)
	if hungURL != "" {
		cfg = bulwarkHungConfig(addr, filepath.Join(dir, "data"), o.evalInterval, slackAPI, hungURL)
	}
	cfgFile := filepath.Join(dir, "bulwark.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return func() {}, err
	}
	col := &proc{name: "collector", cmd: exec.CommandContext(ctx, o.bulwark, "collector", "--config", cfgFile, "--log.level", "warn")}
	col.cmd.Env = append(os.Environ(), "BULWARK_BENCH_SLACK_TOKEN=xoxb-bench")
	agentCfg := filepath.Join(dir, "agent.yml")
	os.WriteFile(agentCfg, []byte(fmt.Sprintf("collector:\n  url: http://%s\n  token_env: BULWARK_BENCH_TOKEN\nqueue:\n  dir: %s\n"+
		"defaults:\n  schedule: \"@every %s\"\n  timeout: 2s\n  deps_schedule: \"off\"\ntargets:\n  - {id: portal, sector: government, url: %q}\n",
		addr, filepath.Join(dir, "queue"), o.probeInterval, targetURL)), 0o600)
	metricsAddr, _ := freeAddr()
	ag := &proc{name: "agent", cmd: exec.CommandContext(ctx, filepath.Join(filepath.Dir(o.bulwark), "bulwark-agent"), "run",
		"--config", agentCfg, "--web.listen-address", metricsAddr, "--log.level", "warn")}
	ag.cmd.Env = append(os.Environ(), "BULWARK_BENCH_TOKEN="+benchToken)
	return startProcs(col, "http://"+addr+"/-/ready", ag, "http://"+metricsAddr+"/-/healthy")
}

// startPrometheusAlerting runs Debian's blackbox_exporter, Prometheus
// (scraping it every probe interval, evaluating every evaluation
// interval) and Alertmanager (group_wait 0s) with a Slack receiver.
func startPrometheusAlerting(ctx context.Context, o options, targetURL, webhook, hungURL string) (func(), error) {
	dir := filepath.Join(o.dir, "latency-prometheus")
	os.MkdirAll(dir, 0o755)
	bbAddr, _ := freeAddr()
	promAddr, _ := freeAddr()
	amAddr, _ := freeAddr()
	files := map[string]string{
		"blackbox.yml": "modules:\n  http_2xx:\n    prober: http\n    timeout: 2s\n    http:\n      preferred_ip_protocol: ip4\n",
		"rules.yml": "groups:\n  - name: latency\n    rules:\n      - alert: ServiceDown\n        expr: probe_success == 0\n" +
			"        labels: {severity: page}\n",
		"prometheus.yml": fmt.Sprintf(`global:
  scrape_interval: %s
  scrape_timeout: %s
  evaluation_interval: %s
rule_files: [%s]
alerting:
  alertmanagers: [{static_configs: [{targets: [%q]}]}]
scrape_configs:
  - job_name: blackbox
    metrics_path: /probe
    params: {module: [http_2xx]}
    static_configs: [{targets: [%q]}]
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {source_labels: [__param_target], target_label: instance}
      - {target_label: __address__, replacement: %q}
`, o.probeInterval, min(o.probeInterval, 3*time.Second), o.evalInterval, filepath.Join(dir, "rules.yml"), amAddr, targetURL, bbAddr),
		"alertmanager.yml": alertmanagerConfig(webhook, hungURL),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return func() {}, err
		}
	}
	bb := &proc{name: "blackbox", cmd: exec.CommandContext(ctx, "prometheus-blackbox-exporter", "--config.file="+filepath.Join(dir, "blackbox.yml"),
		"--web.listen-address="+bbAddr, "--log.level=warn")}
	am := &proc{name: "alertmanager", cmd: exec.CommandContext(ctx, "prometheus-alertmanager", "--config.file="+filepath.Join(dir, "alertmanager.yml"),
		"--storage.path="+filepath.Join(dir, "am"), "--web.listen-address="+amAddr, "--cluster.listen-address=", "--log.level=warn")}
	prom := &proc{name: "prometheus", cmd: exec.CommandContext(ctx, "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr, "--log.level=warn")}
	return startProcs(bb, "http://"+bbAddr+"/-/healthy", am, "http://"+amAddr+"/-/ready", prom, "http://"+promAddr+"/-/ready")
}

// startProcs starts each process in turn and waits for its readiness URL;
// the returned func stops them all.
func startProcs(pairs ...any) (func(), error) {
	var started []*proc
	stop := func() {
		for _, p := range slices.Backward(started) {
			p.stop()
		}
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		p, ready := pairs[i].(*proc), pairs[i+1].(string)
		p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
		if err := p.cmd.Start(); err != nil {
			return stop, fmt.Errorf("start %s: %w", p.name, err)
		}
		started = append(started, p)
		deadline := time.Now().Add(60 * time.Second)
		for {
			if resp, err := http.Get(ready); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return stop, errors.New(p.name + " not ready after 60s: " + p.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return stop, nil
}
