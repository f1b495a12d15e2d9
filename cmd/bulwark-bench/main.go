// Command bulwark-bench measures the collector side by side with Debian's
// Prometheus and VictoriaMetrics on the same pre-encoded payloads, each
// running as its own process on loopback:
//
//	bulwark-bench ingest   remote-write samples per second and per CPU-second
//	bulwark-bench query    latency of a dashboard query over 10,000 series
//	bulwark-bench agent    the agent's probes per CPU-second against blackbox_exporter,
//	                       its memory and schedule accuracy with 10,000 targets
//	bulwark-bench attacks  the collector's peak memory under issue 19's attacks, baseline beside
//	bulwark-bench forward  a fixed rate through collectors forwarding to VictoriaMetrics
//	                       (storage.remote_write), SQLite and PostgreSQL state side by side
//	bulwark-bench alert-latency
//	                       detection-to-notification latency to a Slack test server,
//	                       against blackbox_exporter -> Prometheus -> Alertmanager
//
// It prints a Markdown table for docs/BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bulwark-bench:", err)
		os.Exit(1)
	}
}

type options struct {
	engines             []string
	series, batch       int
	rounds, conns, reps int
	bulwark             string
	dir                 string
	targets             int
	duration, loadFor   time.Duration
	cpuProfile          string // agent: where to save the agent's CPU profile of the full-load run
	// alert-latency
	probeInterval, evalInterval time.Duration
	outages                     int
	hungReceiver                bool          // a second receiver that never answers gets every alert too
	hungWait                    time.Duration // with hungReceiver: how long an outage's notification is waited for
	hungAnswers                 bool          // with hungReceiver: the second webhook answers (a control run)
	// attacks
	baseline, only          string
	attackConns, attackZone int
	attackCap               int64
	// forward
	rate         int    // samples/s sent to each collector
	stateDSNFile string // a PostgreSQL DSN file: run a collector with state on it too
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "serve" {
		return serveTarget(ctx, out)
	}
	if len(args) == 0 || !slices.Contains([]string{"ingest", "query", "agent", "alert-latency", "attacks", "forward"}, args[0]) {
		return errors.New("usage: bulwark-bench ingest|query|agent|alert-latency|attacks|forward [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	var o options
	engines := fs.String("engines", "bulwark,prometheus,victoriametrics", "comma-separated engines to measure")
	fs.IntVar(&o.series, "series", 60000, "series per round (ingest) or in the store (query: default 10000)")
	fs.IntVar(&o.batch, "batch", 2000, "series per request")
	fs.IntVar(&o.rounds, "rounds", 10, "rounds of one sample per series (ingest)")
	fs.IntVar(&o.conns, "conns", 2, "concurrent connections")
	fs.IntVar(&o.reps, "reps", 20, "query repetitions (query)")
	fs.StringVar(&o.bulwark, "bulwark", "", "bulwark binary (default: built from this module)")
	fs.IntVar(&o.targets, "targets", 10000, "agent: targets")
	fs.DurationVar(&o.duration, "duration", 150*time.Second, "agent: how long the agent runs with targets at @every 60s")
	fs.DurationVar(&o.loadFor, "load-for", 20*time.Second, "agent: how long each probes-per-CPU-second run lasts")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "agent: save the agent's CPU profile of the full-load run to this file (and its allocations to FILE.allocs)")
	fs.DurationVar(&o.probeInterval, "probe-interval", 5*time.Second, "alert-latency: probe and scrape interval")
	fs.DurationVar(&o.evalInterval, "eval-interval", 2*time.Second, "alert-latency: rule evaluation interval")
	fs.IntVar(&o.outages, "outages", 12, "alert-latency: outages measured")
	fs.BoolVar(&o.hungReceiver, "hung-receiver", false, "alert-latency: route every alert also to a webhook that accepts and never answers")
	fs.BoolVar(&o.hungAnswers, "hung-control", false, "alert-latency: with -hung-receiver, the second webhook answers at once (a control run of the same routing)")
	fs.DurationVar(&o.hungWait, "hung-wait", 30*time.Second, "alert-latency: with -hung-receiver, how long each outage's notification is waited for (an outage not notified by then is counted, not fatal)")
	fs.StringVar(&o.baseline, "baseline", "", "attacks: a baseline bulwark binary run side by side (e.g. built from an earlier commit)")
	fs.StringVar(&o.only, "only", "", "attacks: comma-separated attacks to run (default all)")
	fs.IntVar(&o.attackConns, "attack-conns", 200, "attacks: concurrent bodies")
	fs.IntVar(&o.attackZone, "attack-zone", 500000, "attacks: delegations in the DNS report's zone")
	fs.IntVar(&o.rate, "rate", 100000, "forward: samples/s sent to each collector")
	fs.StringVar(&o.stateDSNFile, "state-dsn-file", "", "forward: file holding a PostgreSQL DSN; a collector with its state there runs beside the SQLite ones")
	attackCap := fs.String("attack-cap", "3GiB", "attacks: kill a collector whose RSS passes this")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var err error
	if o.attackCap, err = parseBytes(*attackCap); err != nil {
		return fmt.Errorf("-attack-cap: %w", err)
	}
	o.engines = strings.Split(*engines, ",")
	if args[0] == "query" && !flagSet(fs, "series") {
		o.series = 10000
	}
	if args[0] == "forward" {
		if !flagSet(fs, "series") {
			o.series = 100000
		}
		if !flagSet(fs, "duration") {
			o.duration = 30 * time.Second
		}
		if o.duration > 60*time.Second || o.rate <= 0 || o.series <= 0 {
			return errors.New("forward: -duration at most 60s, -rate and -series positive")
		}
	}
	dir, err := os.MkdirTemp("", "bulwark-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.dir = dir
	if o.bulwark == "" {
		o.bulwark = filepath.Join(dir, "bin", "bulwark")
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Dir(o.bulwark)+"/", "./cmd/bulwark", "./cmd/bulwark-agent")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build bulwark (run from the module root): %w", err)
		}
	}
	switch args[0] {
	case "ingest":
		return benchIngest(ctx, o, out)
	case "agent":
		return benchAgent(ctx, o, out)
	case "alert-latency":
		return benchAlertLatency(ctx, o, out)
	case "attacks":
		return benchAttacks(ctx, o, out)
	case "forward":
		return benchForward(ctx, o, out)
	}
	return benchQuery(ctx, o, out)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores visible, %s", cpu, numCPU(), time.Now().UTC().Format("2006-01-02"))
}
