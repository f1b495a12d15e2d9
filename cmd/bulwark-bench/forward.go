package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// fwdCollector is one collector of the forward run and what was seen of it.
type fwdCollector struct {
	*engine
	state    string
	forwards bool

	cpu0, cpu time.Duration
	idle      time.Duration // CPU over 2 s before the load
	busy      time.Duration // time spent answering its requests
	rss       int64
	maxLag    float64 // highest_timestamp - queue_highest_sent_timestamp, s
	maxPend   float64
	drain     time.Duration // after the last round, until the queue was empty
	drained   bool
	last      rwMetrics
}

// rwMetrics is the queue manager's view on /metrics. highest is the newest
// sample the bench had sent when it was read: the collector's
// prometheus_remote_storage_highest_timestamp_in_seconds stays 0 (samples
// reach the TSDB without Prometheus's remote appender), so the lag is the
// bench's newest timestamp less queue_highest_sent_timestamp_seconds.
type rwMetrics struct {
	highest, sent, pending, total, failed, dropped, shards float64
}

// lag is 0 until the queue has sent anything (the gauge starts at 0).
func (m rwMetrics) lag() float64 {
	if m.sent == 0 {
		return 0
	}
	return max(m.highest-m.sent, 0)
}

// startCollector runs a collector with extra configuration appended.
func startCollector(ctx context.Context, o options, name, extra string) (*engine, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(o.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf("listen: %s\ndata_dir: %s\nauth: {public_metrics: true}\nlimits: {max_requests_per_agent: %d}\nagents:\n  - id: bench\n    vantage: home\n    token_sha256: %s\n%s",
		addr, filepath.Join(dir, "data"), max(o.conns, 4), auth.Hash(benchToken), extra)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	e := &engine{name: name, base: "http://" + addr, writeURL: "http://" + addr + "/api/v1/write", token: benchToken}
	e.cmd = exec.CommandContext(ctx, o.bulwark, "collector", "--config", cfgFile, "--log.level", "warn")
	if err := e.start(e.base + "/-/ready"); err != nil {
		return nil, err
	}
	return e, nil
}

// scrapeRW reads the queue manager's metrics from a collector's /metrics.
func scrapeRW(ctx context.Context, base string) (rwMetrics, error) {
	var m rwMetrics
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	fields := map[string]*float64{
		"prometheus_remote_storage_queue_highest_sent_timestamp_seconds": &m.sent,
		"prometheus_remote_storage_samples_pending":                      &m.pending,
		"prometheus_remote_storage_samples_total":                        &m.total,
		"prometheus_remote_storage_samples_failed_total":                 &m.failed,
		"prometheus_remote_storage_samples_dropped_total":                &m.dropped,
		"prometheus_remote_storage_shards":                               &m.shards,
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "prometheus_remote_storage_") {
			continue
		}
		name, rest, _ := strings.Cut(l, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, _ = strings.Cut(l, "} ")
		}
		if p, ok := fields[name]; ok {
			v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			if err == nil {
				*p += v
			}
		}
	}
	return m, sc.Err()
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// vmQuery returns the scalar answer of an instant query.
func vmQuery(ctx context.Context, base, q string, at time.Time) (float64, error) {
	u := base + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ans struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return 0, fmt.Errorf("query %s: %w", q, err)
	}
	if len(ans.Data.Result) == 0 {
		return 0, nil
	}
	s, _ := ans.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// vmMetric sums a metric's lines on VictoriaMetrics' /metrics whose line starts with prefix.
func vmMetric(ctx context.Context, base, prefix string) float64 {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

func benchForward(ctx context.Context, o options, out io.Writer) error {
	loadBefore := loadavg()
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	vm := &engine{name: "victoriametrics", base: "http://" + addr}
	vm.cmd = exec.CommandContext(ctx, "victoria-metrics", "-httpListenAddr="+addr, "-storageDataPath="+filepath.Join(o.dir, "vm"),
		"-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s", "-loggerLevel=ERROR")
	if err := vm.start(vm.base + "/health"); err != nil {
		return err
	}
	defer vm.stop()
	rw := fmt.Sprintf("storage:\n  remote_write:\n    - url: %s/api/v1/write\n      name: vm\n", vm.base)
	type spec struct{ name, state, extra string }
	specs := []spec{{"baseline", "sqlite", ""}, {"sqlite-rw", "sqlite", rw}}
	if o.stateDSNFile != "" {
		specs = append(specs, spec{"postgres-rw", "postgres", rw + fmt.Sprintf("state:\n  driver: postgres\n  dsn_file: %s\n", o.stateDSNFile)})
	}
	var cs []*fwdCollector
	defer func() {
		for _, c := range cs {
			c.stop()
		}
	}()
	for _, s := range specs {
		e, err := startCollector(ctx, o, s.name, s.extra)
		if err != nil {
			return err
		}
		cs = append(cs, &fwdCollector{engine: e, state: s.state, forwards: s.extra != ""})
	}

	series := probeSeries(o.series)
	period := time.Duration(float64(o.series) / float64(o.rate) * float64(time.Second))
	rounds := max(int(o.duration/period), 1)
	t0 := time.Now().Add(time.Second).Truncate(time.Millisecond)
	tsBase := t0 // round r's samples are at tsBase + r*period
	enc := make(chan [][]byte, 3)
	go func() {
		defer close(enc)
		for r := range rounds {
			select {
			case enc <- encodeRounds(series, 1, o.batch, tsBase.Add(time.Duration(r)*period))[0]:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Watch the queue managers every second.
	var mu sync.Mutex
	newest := float64(tsBase.UnixMilli()) / 1000 // the newest sample every collector accepted, s
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watch sync.WaitGroup
	watch.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-t.C:
			}
			for _, c := range cs {
				if !c.forwards {
					continue
				}
				m, err := scrapeRW(watchCtx, c.base)
				if err != nil {
					continue
				}
				mu.Lock()
				m.highest = newest
				c.maxLag, c.maxPend, c.last = max(c.maxLag, m.lag()), max(c.maxPend, m.pending), m
				mu.Unlock()
			}
		}
	})
	// Idle CPU over 2 s (rule evaluation, housekeeping), then round 0
	// creates the series, outside the measurement.
	for _, c := range cs {
		c.cpu0, _ = c.engine.cpu()
	}
	time.Sleep(2 * time.Second)
	for _, c := range cs {
		cpu, _ := c.engine.cpu()
		c.idle = cpu - c.cpu0
	}
	warm := <-enc
	var wg0 sync.WaitGroup
	for _, c := range cs {
		wg0.Go(func() { send(ctx, c.engine, warm, o.conns) })
	}
	wg0.Wait()
	rounds--
	t0 = time.Now()
	for _, c := range cs {
		c.cpu0, _ = c.engine.cpu()
	}
	vmCPU0, _ := vm.cpu()
	vmRecv0 := vmMetric(ctx, vm.base, `vm_rows_inserted_total{type="promremotewrite"}`)
	late, maxLate := 0, time.Duration(0)
	r := 0
	for bodies := range enc {
		due := t0.Add(time.Duration(r) * period)
		time.Sleep(time.Until(due))
		var wg sync.WaitGroup
		errs := make([]error, len(cs))
		for i, c := range cs {
			wg.Go(func() {
				s := time.Now()
				errs[i] = send(ctx, c.engine, bodies, o.conns)
				c.busy += time.Since(s)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				stopWatch()
				return err
			}
		}
		mu.Lock()
		newest = float64(tsBase.Add(time.Duration(r+1)*period).UnixMilli()) / 1000
		mu.Unlock()
		if over := time.Since(due.Add(period)); over > 0 {
			late++
			maxLate = max(maxLate, over)
		}
		r++
	}
	sendEnd := time.Now()
	stopWatch()
	watch.Wait()
	// Drain: until every queue has sent every sample, at most 60 s.
	deadline := sendEnd.Add(60 * time.Second)
	for _, c := range cs {
		if !c.forwards {
			continue
		}
		for time.Now().Before(deadline) {
			m, err := scrapeRW(ctx, c.base)
			m.highest = newest
			if err == nil {
				c.maxLag, c.maxPend = max(c.maxLag, m.lag()), max(c.maxPend, m.pending)
			}
			// Drained: the newest sample sent and every sample counted
			// (highest_sent is the highest over the shards, so it can
			// lead samples still queued in other shards).
			if err == nil && m.sent > 0 && m.lag() == 0 && m.total >= float64((rounds+1)*o.series) {
				c.drain, c.drained, c.last = time.Since(sendEnd), true, m
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, c := range cs {
		cpu1, _ := c.engine.cpu()
		c.cpu = cpu1 - c.cpu0
		c.rss = c.engine.rss()
		if m, err := scrapeRW(ctx, c.base); err == nil && c.forwards {
			c.last = m
			c.last.highest = newest
		}
	}
	vmCPU1, _ := vm.cpu()
	sent := rounds * o.series
	wall := sendEnd.Sub(t0)
	measured := time.Since(t0)
	loadAfter := loadavg()

	// What VictoriaMetrics holds: flush its buffers, count the rows (the
	// pair's duplicates count once, -dedup.minScrapeInterval=1ms).
	http.Get(vm.base + "/internal/force_flush")
	var rows float64
	for range 20 {
		rows, err = vmQuery(ctx, vm.base, "sum(count_over_time(probe_http_duration_seconds[15m]))", time.Now())
		if err == nil && rows >= float64(sent+o.series) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	received := vmMetric(ctx, vm.base, `vm_rows_inserted_total{type="promremotewrite"}`)

	fmt.Fprintf(out, "Forward: %d probe-shaped series, one sample each every %s (%d samples/s to each collector), %d rounds (%s), %d series per request, %d connections per collector.\nMachine: %s. Load average before %s, after %s.\n\n",
		o.series, period, o.rate, rounds, wall.Round(time.Millisecond), o.batch, o.conns, machine(), loadBefore, loadAfter)
	fmt.Fprintf(out, "Driver: %d samples to each collector in %s = %.0f samples/s sustained; %d of %d rounds finished after the next was due (worst by %s).\n\n",
		sent, wall.Round(time.Millisecond), float64(sent)/wall.Seconds(), late, rounds, maxLate.Round(time.Millisecond))
	fmt.Fprintln(out, "| collector | state | forwards | samples (after round 0) | idle CPU-s/s | CPU-s | samples/CPU-s | cores per 1,000 samples/s | RSS | max queue lag | max pending | drained after | forwarded (failed, dropped) |")
	fmt.Fprintln(out, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, c := range cs {
		perCPU := float64(sent) / max(c.cpu, 10*time.Millisecond).Seconds()
		fw := "-"
		lag, pend, drain := "-", "-", "-"
		if c.forwards {
			fw = fmt.Sprintf("%.0f (%.0f, %.0f)", c.last.total, c.last.failed, c.last.dropped)
			lag, pend = fmt.Sprintf("%.1f s", c.maxLag), fmt.Sprintf("%.0f", c.maxPend)
			drain = "not in 60 s"
			if c.drained {
				drain = c.drain.Round(100 * time.Millisecond).String()
			}
		}
		fmt.Fprintf(out, "| %s | %s | %v | %d | %.3f | %.2f | %.0f | %.4f | %d MB | %s | %s | %s | %s |\n",
			c.name, c.state, c.forwards, sent, c.idle.Seconds()/2, c.cpu.Seconds(), perCPU, 1000/perCPU, c.rss>>20, lag, pend, drain, fw)
	}
	vmc := (vmCPU1 - vmCPU0).Seconds()
	fmt.Fprintf(out, "\nCPU-s are from the end of round 0 (series creation, not counted) to %s later (sending and the queues' drain).\n", measured.Round(time.Millisecond))
	fmt.Fprintf(out, "\nVictoriaMetrics: %.0f rows received over remote write, %.0f rows after dedup (expected %d, round 0 included), %.2f CPU-s in the window (%.0f rows received per CPU-s), RSS %d MB.\n",
		received, rows, sent+o.series, vmc, (received-vmRecv0)/max(vmc, 0.01), vm.rss()>>20)
	return nil
}
