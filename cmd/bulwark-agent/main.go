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
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/net/netutil"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/internal/cli"
)

const usage = `Usage: bulwark-agent <command> [flags]

Commands:
  run --config FILE [--web.listen-address ADDR] [--web.config.file FILE] [--web.enable-pprof]
                                                  probe on schedule and push to the collector
  probe --config FILE --once [--json] [--deps]    probe every target once, print the results, exit 1 if any failed
  check --config FILE                             validate a configuration and exit

Run "bulwark-agent <command> --help" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // the usage asked for is printed
		}
		fmt.Fprintln(os.Stderr, "bulwark-agent:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "run", "check", "probe":
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	fs := cli.NewFlags(args[0], "bulwark-agent "+args[0]+" --config FILE [flags]", stderr)
	file := fs.String("config", "bulwark-agent.yml", "agent configuration `file`")
	listen := fs.String("web.listen-address", "127.0.0.1:9401", "run: `address` serving /metrics (empty: none)")
	webConfig := fs.String("web.config.file", "", "run: Prometheus web configuration `file` for that listener (TLS, client CAs, basic auth)")
	pprofOn := fs.Bool("web.enable-pprof", false, "run: serve /debug/pprof/ on that listener (guard it with the web configuration)")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	once := fs.Bool("once", false, "probe: run every check once and exit (the only mode for now)")
	asJSON := fs.Bool("json", false, "probe: print JSON instead of a table")
	withDeps := fs.Bool("deps", false, "probe: observe dependencies too")
	concurrency := fs.Int("concurrency", 64, "probe: probes run at once")
	if _, err := cli.ParseN(fs, args[1:], 0, stdout); err != nil {
		return err
	}
	cfg, err := agentconfig.Load(*file)
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
		if _, err := agent.CollectorClient(cfg.Collector); err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
		fmt.Fprintf(stdout, "%s: valid (%d targets)\n", *file, len(cfg.Targets))
		return nil
	}
	// From here on SIGHUP reloads: caught before anything starts.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("log level %q: %w", *level, err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if *webConfig != "" {
		if err := web.Validate(*webConfig); err != nil {
			return fmt.Errorf("web config %s: %w", *webConfig, err)
		}
	}

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
		srv := &http.Server{Handler: agentMux(reg, *pprofOn), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
		g.Go(func() error {
			err := web.Serve(netutil.LimitListener(ln, 64), srv, &web.FlagConfig{WebConfigFile: webConfig}, logger)
			if !errors.Is(err, http.ErrServerClosed) {
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
	g.Go(func() error { return reloadOnHUP(gctx, hup, *file, a, reg, logger) })
	logger.Info("agent starting", "targets", len(cfg.Targets), "collector", cfg.Collector.URL)
	g.Go(func() error { return a.Run(gctx) })
	return g.Wait()
}

// agentMux serves the agent's own metrics and health, and the profiles
// only when asked for.
func agentMux(reg *prometheus.Registry, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") })
	// Served once the agent is built (its configuration valid, its disk
	// queue open): what a service manager or a Kubernetes probe waits for.
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Bulwark agent is ready.") })
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	return mux
}

// reloadOnHUP reloads the configuration file on SIGHUP until ctx ends; a
// bad file keeps the old configuration and says why.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, file string, a *agent.Agent, reg prometheus.Registerer, logger *slog.Logger) error {
	f := promauto.With(reg)
	ok := f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "agent", Name: "config_last_reload_successful",
		Help: "Whether the last configuration reload attempt was successful."})
	at := f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "agent", Name: "config_last_reload_success_timestamp_seconds",
		Help: "Timestamp of the last successful configuration reload."})
	ok.Set(1)
	at.SetToCurrentTime()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		}
		cfg, err := agentconfig.Load(file)
		if err == nil {
			err = a.Reload(cfg)
		}
		if err != nil {
			ok.Set(0)
			logger.Error("configuration reload failed; keeping the old one", "file", file, "err", err)
			continue
		}
		ok.Set(1)
		at.SetToCurrentTime()
		logger.Info("configuration reloaded", "file", file, "targets", len(cfg.Targets))
	}
}
