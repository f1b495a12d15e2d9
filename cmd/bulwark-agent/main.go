// Command bulwark-agent probes targets from one vantage point and pushes the
// results to the collector.
//
//	bulwark-agent run --config FILE     probe on schedule and push
//	bulwark-agent check --config FILE   validate a configuration and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/config"
)

const usage = `Usage: bulwark-agent <command> [flags]

Commands:
  run --config FILE [--web.listen-address ADDR]   probe on schedule and push to the collector
  probe --config FILE --once [--json] [--deps]    probe every target once, print the results, exit 1 if any failed
  check --config FILE                             validate a configuration and exit
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bulwark-agent:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "bulwark-agent.yml", "agent configuration `file`")
	listen := fs.String("web.listen-address", "127.0.0.1:9401", "`address` serving /metrics (empty: none)")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	once := fs.Bool("once", false, "probe: run every check once and exit (the only mode for now)")
	asJSON := fs.Bool("json", false, "probe: print JSON instead of a table")
	withDeps := fs.Bool("deps", false, "probe: observe dependencies too")
	concurrency := fs.Int("concurrency", 64, "probe: probes run at once")
	switch args[0] {
	case "run", "check", "probe":
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if args[0] == "probe" {
		if !*once {
			return fmt.Errorf("probe: only --once is supported")
		}
		return probeOnce(ctx, cfg, *withDeps, *asJSON, *concurrency, stdout, slog.New(slog.DiscardHandler))
	}
	if args[0] == "check" {
		if _, err := cfg.Collector.Token(); err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		fmt.Fprintf(stdout, "%s: valid (%d targets)\n", *file, len(cfg.Targets))
		return nil
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("log level %q: %w", *level, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a, err := agent.New(agent.Options{Config: cfg, Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	logger.Info("agent starting", "targets", len(cfg.Targets), "collector", cfg.Collector.URL)
	g.Go(func() error { return a.Run(gctx) })
	return g.Wait()
}
