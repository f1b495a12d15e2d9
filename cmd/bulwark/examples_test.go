package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/prometheus/client_golang/prometheus"
)

// Issue 21: the example configurations the docs' commands name pass
// `bulwark check` as written, from the repository's root; and the pair
// works together: the example agent, pointed at the example collector,
// authenticates with the token docs/CONFIGURATION.md gives, pulls the
// collector's target and stores its results there.
func TestExampleConfigs(t *testing.T) {
	t.Chdir("../..")
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"check", "--config", "examples/collector.yml"}, &out, &errb); err != nil {
		t.Fatalf("bulwark check --config examples/collector.yml: %v\n%s", err, errb.String())
	}
	if want := "examples/collector.yml: valid (1 agents, 1 targets, "; !strings.HasPrefix(out.String(), want) ||
		!strings.Contains(out.String(), "1 rule files, 4 playbooks)") {
		t.Fatalf("check said %q", out.String())
	}

	// The collector of the example on a free port, its data in a
	// temporary directory; the agent's URLs follow it.
	cfg, err := collectorconfig.Load("examples/collector.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.DataDir = filepath.Join(dir, "data")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	for i := range cfg.Targets {
		cfg.Targets[i].URL = strings.Replace(cfg.Targets[i].URL, "127.0.0.1:9400", addr, 1)
	}
	app, err := collector.New(collector.Options{Config: cfg, ConfigFile: "examples/collector.yml"})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	defer app.Stop(context.Background())

	ac, err := agentconfig.Load("examples/agent.yml")
	if err != nil {
		t.Fatal(err)
	}
	ac.Collector.URL = strings.Replace(ac.Collector.URL, "127.0.0.1:9400", addr, 1)
	for i := range ac.Targets {
		ac.Targets[i].URL = strings.Replace(ac.Targets[i].URL, "127.0.0.1:9400", addr, 1)
	}
	ac.Queue.Dir = filepath.Join(dir, "agent-queue")
	ac.Defaults.Schedule = "@every 1s" // the example's 30s and the pull's 1m, shortened for the test
	ac.Collector.PullInterval = configfile.Duration(time.Second)
	t.Setenv("BULWARK_AGENT_TOKEN", "try-me-home-1")
	tok, err := ac.Collector.Token()
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Options{Config: ac, Token: tok, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		pr := instant(t, base, `probe_success{agent="home-1",vantage="home"} == 1`)
		up := map[string]bool{}
		for _, r := range pr.Data.Result {
			up[r.Metric["target"]] = true
		}
		if up["collector-healthy"] && up["collector-ready"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s the example agent's targets up at the example collector: %v, want collector-healthy (its own) and collector-ready (pulled)", up)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
