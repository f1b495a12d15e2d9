package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// The attacks of issue 19, each run against a fresh collector process of
// each binary (a baseline and the build under test) in the same run. The
// collector's resident memory is sampled every 50 ms; a process that passes
// the cap is killed (it would have been killed by the kernel later) and
// reported as "killed at the cap". Every attack is bounded in count and time.

const (
	attackAgentToken    = "attack-agent-token"
	attackViewerToken   = "attack-viewer-token"
	attackOperatorToken = "attack-operator-token"
	attackTargets       = 1000
)

type attack struct {
	name, what string
	prepare    func(ctx context.Context, o options, bin, dataDir string) error // before the collector starts
	run        func(ctx context.Context, o options, c *attackCollector) error
}

func attacks(o options) []attack {
	return []attack{
		{name: "fat-series", what: "one agent: series of 31 labels of 2,000 bytes, 100 per request, for 30 s", run: attackFatSeries},
		{name: "bodies", what: fmt.Sprintf("%d concurrent 8 MiB bodies with one agent token", o.attackConns), run: attackBodies},
		{name: "label-join", what: "a viewer: nested label_join over 1,000 series, 4 at once", run: attackLabelJoin},
		{name: "csv-import", what: "an operator: 4 concurrent dry runs of a 60 MiB CSV of bad rows", run: attackCSV},
		{name: "dns-report", what: fmt.Sprintf("8 concurrent viewers of the DNS report on a %d-delegation zone", o.attackZone), prepare: prepareZone, run: attackDNSReport},
	}
}

// attackCollector is one collector process under attack.
type attackCollector struct {
	*engine
	peak   int64 // highest RSS sampled, bytes
	killed bool
}

func (c *attackCollector) do(ctx context.Context, method, path, token, ctype string, body io.Reader, size int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if size > 0 {
		req.ContentLength = size
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if ctype == "application/x-protobuf" {
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, b, err
}

func attackConfig(addr, dataDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\ndata_dir: %s\nagents:\n  - {id: attacker, vantage: home, token_sha256: %s}\n", addr, dataDir, auth.Hash(attackAgentToken))
	fmt.Fprintf(&b, "users:\n  - {id: viewer, role: viewer, token_sha256: %s}\n  - {id: operator, role: operator, token_sha256: %s}\n",
		auth.Hash(attackViewerToken), auth.Hash(attackOperatorToken))
	b.WriteString("targets:\n")
	for i := range attackTargets {
		fmt.Fprintf(&b, "  - {id: t%d, sector: energy, url: \"https://t%d.example/\"}\n", i, i)
	}
	return b.String()
}

func startAttackCollector(ctx context.Context, bin, dir string) (*attackCollector, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "bulwark.yml")
	if err := os.WriteFile(cfg, []byte(attackConfig(addr, filepath.Join(dir, "data"))), 0o600); err != nil {
		return nil, err
	}
	e := &engine{name: filepath.Base(dir), base: "http://" + addr, writeURL: "http://" + addr + "/api/v1/write", token: attackAgentToken}
	e.cmd = exec.CommandContext(ctx, bin, "collector", "--config", cfg, "--log.level", "error")
	e.cmd.Stdout, e.cmd.Stderr = &e.logs, &e.logs
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(e.base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return &attackCollector{engine: e}, nil
			}
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("collector not ready after 2m: %s", e.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watch samples the collector's RSS until ctx ends, killing it past limit.
func (c *attackCollector) watch(ctx context.Context, limit int64, cancel context.CancelFunc) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rss := c.rss()
		c.peak = max(c.peak, rss)
		if rss > limit {
			c.killed = true
			c.cmd.Process.Kill()
			cancel()
			return
		}
	}
}

type attackResult struct {
	binary, attack string
	peak           int64
	killed         bool
	err            error
	took           time.Duration
}

func benchAttacks(ctx context.Context, o options, out io.Writer) error {
	bins := []string{o.baseline, o.bulwark}
	if o.baseline == "" {
		bins = bins[1:]
	}
	var results []attackResult
	for _, a := range attacks(o) {
		if o.only != "" && !strings.Contains(","+o.only+",", ","+a.name+",") {
			continue
		}
		for i, bin := range bins {
			dir := filepath.Join(o.dir, fmt.Sprintf("%s-%d", a.name, i))
			if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
				return err
			}
			r := runAttack(ctx, o, a, bin, dir)
			fmt.Fprintf(os.Stderr, "%s %s: peak %d MiB killed=%v err=%v (%s)\n", bin, a.name, r.peak>>20, r.killed, r.err, r.took.Round(time.Second))
			results = append(results, r)
			os.RemoveAll(dir)
		}
	}
	fmt.Fprintf(out, "Peak RSS of the collector under each attack (cap %d MiB: a process past it is killed), %s\n\n", o.attackCap>>20, machine())
	fmt.Fprintf(out, "| attack | binary | peak RSS | outcome |\n|---|---|---:|---|\n")
	for _, r := range results {
		outcome := "survived"
		switch {
		case r.killed:
			outcome = "**killed at the cap**"
		case r.err != nil:
			outcome = "survived; " + r.err.Error()
		}
		bin := "this build"
		if r.binary == o.baseline {
			bin = "baseline"
		}
		fmt.Fprintf(out, "| %s | %s | %d MiB | %s |\n", r.attack, bin, r.peak>>20, outcome)
	}
	return nil
}

func runAttack(ctx context.Context, o options, a attack, bin, dir string) (res attackResult) {
	res = attackResult{binary: bin, attack: a.name}
	start := time.Now()
	defer func() { res.took = time.Since(start) }()
	if a.prepare != nil {
		if err := a.prepare(ctx, o, bin, filepath.Join(dir, "data")); err != nil {
			res.err = fmt.Errorf("prepare: %w", err)
			return res
		}
	}
	c, err := startAttackCollector(ctx, bin, dir)
	if err != nil {
		res.err = err
		return res
	}
	defer c.stop()
	actx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	wctx, stopWatch := context.WithCancel(actx)
	var wg sync.WaitGroup
	wg.Go(func() { c.watch(wctx, o.attackCap, cancel) })
	err = a.run(actx, o, c)
	stopWatch()
	wg.Wait()
	c.peak = max(c.peak, c.rss())
	res.peak, res.killed = c.peak, c.killed
	if err != nil && !c.killed {
		res.err = err
	}
	return res
}

func attackFatSeries(ctx context.Context, o options, c *attackCollector) error {
	value := strings.Repeat("x", 1988) // 12-byte prefix: 2,000-byte values
	end := time.Now().Add(30 * time.Second)
	refused := 0
	for n := 0; time.Now().Before(end) && ctx.Err() == nil; n++ {
		var req wire.WriteRequest
		for j := range 100 {
			ls := []wire.Label{{Name: "__name__", Value: "probe_success"}}
			for k := range 29 { // 31 labels with the name and the target
				ls = append(ls, wire.Label{Name: fmt.Sprintf("l%02d", k), Value: fmt.Sprintf("%09d-%02d", n*100+j, k) + value})
			}
			ls = append(ls, wire.Label{Name: "target", Value: "t1"})
			req.Series = append(req.Series, wire.Series{Labels: ls, Samples: []wire.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}}})
		}
		body := wire.Compress(nil, &req)
		code, _, err := c.do(ctx, http.MethodPost, "/api/v1/write", attackAgentToken, "application/x-protobuf", bytes.NewReader(body), int64(len(body)))
		if err != nil {
			return nil // killed or cut off
		}
		if code/100 != 2 {
			refused++
		}
	}
	if refused > 0 {
		return fmt.Errorf("%d requests refused", refused)
	}
	return nil
}

func attackBodies(ctx context.Context, o options, c *attackCollector) error {
	conns := o.attackConns
	body := make([]byte, 8<<20)
	for i := range body {
		body[i] = byte(rand.Uint32())
	}
	return answers(conns, func() (int, []byte, error) {
		return c.do(ctx, http.MethodPost, "/api/v1/write", attackAgentToken, "application/x-protobuf", bytes.NewReader(body), int64(len(body)))
	})
}

// answers sends n requests at once and says what came back: HTTP status
// codes and their counts (-1: no answer).
func answers(n int, send func() (int, []byte, error)) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range n {
		wg.Go(func() {
			code, _, err := send()
			if err != nil {
				code = -1
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return fmt.Errorf("answers %v", codes)
}

// pushProbes stores probe_success for every configured target.
func pushProbes(ctx context.Context, c *attackCollector) error {
	var req wire.WriteRequest
	for i := range attackTargets {
		req.Series = append(req.Series, wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_success"},
			{Name: "check", Value: "tcp"}, {Name: "sector", Value: "energy"}, {Name: "target", Value: fmt.Sprintf("t%d", i)}},
			Samples: []wire.Sample{{Value: 1, Timestamp: time.Now().UnixMilli()}}})
	}
	body := wire.Compress(nil, &req)
	code, msg, err := c.do(ctx, http.MethodPost, "/api/v1/write", attackAgentToken, "application/x-protobuf", bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("push: HTTP %d: %s", code, msg)
	}
	return nil
}

// labelJoinQuery doubles every series' target label at each of depth levels.
func labelJoinQuery(depth int) string {
	q := `probe_success`
	for range depth {
		q = `label_join(` + q + `, "target", "", "target", "target")`
	}
	return q
}

func attackLabelJoin(ctx context.Context, o options, c *attackCollector) error {
	if err := pushProbes(ctx, c); err != nil {
		return err
	}
	q := labelJoinQuery(40) // 1.8 KB
	return answers(4, func() (int, []byte, error) {
		return c.do(ctx, http.MethodGet, "/api/v1/query?query="+url.QueryEscape(q), attackViewerToken, "", nil, 0)
	})
}

func badRowsCSV(size int) []byte {
	var b bytes.Buffer
	b.WriteString("id,name,url,sector\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "Bad Id %d,Service %d,not a url %d,nowhere\n", i, i, i)
	}
	return b.Bytes()
}

func attackCSV(ctx context.Context, o options, c *attackCollector) error {
	body := badRowsCSV(60 << 20)
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := []string{}
	for range 4 {
		wg.Go(func() {
			code, msg, err := c.do(ctx, http.MethodPost, "/api/v1/targets/import?dry_run=true", attackOperatorToken, "text/csv", bytes.NewReader(body), int64(len(body)))
			a := fmt.Sprintf("HTTP %d (%d bytes read of the answer)", code, len(msg))
			if err != nil {
				a = "error"
			}
			mu.Lock()
			answers = append(answers, a)
			mu.Unlock()
		})
	}
	wg.Wait()
	return errors.New(strings.Join(answers, ", "))
}

// prepareZone writes a zone of n delegations and imports it with the
// binary's own `zone import` into the collector's data directory.
func prepareZone(ctx context.Context, o options, bin, dataDir string) error {
	f := filepath.Join(filepath.Dir(dataDir), "big.zone")
	var b bytes.Buffer
	b.WriteString("$ORIGIN arc.\n$TTL 3600\n@ IN SOA ns1.arc. hostmaster.arc. 1 3600 900 604800 300\n")
	hosters := []string{"ns1.cloudflare.com.", "ns2.cloudflare.com.", "ns-1.awsdns-01.org.", "a.ns.example-hoster.net.", "dns1.p01.nsone.net."}
	for i := range o.attackZone {
		h := hosters[i%len(hosters)]
		fmt.Fprintf(&b, "d%d IN NS %s\nd%d IN NS %s\n", i, h, i, hosters[(i+1)%len(hosters)])
	}
	if err := os.WriteFile(f, b.Bytes(), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "zone", "import", f, "--data", dataDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("zone import: %w: %s", err, out)
	}
	return nil
}

func attackDNSReport(ctx context.Context, o options, c *attackCollector) error {
	return answers(8, func() (int, []byte, error) {
		return c.do(ctx, http.MethodGet, "/api/v1/reports/dns", attackViewerToken, "", nil, 0)
	})
}

func parseBytes(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "GiB"):
		mult, s = 1<<30, strings.TrimSuffix(s, "GiB")
	case strings.HasSuffix(s, "MiB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MiB")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}
