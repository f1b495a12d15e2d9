// Package collector is the Bulwark collector as an embeddable app:
// New(Options), Start, Stop(ctx). It receives samples, stores them, and
// serves the query API, the console and its own metrics.
package collector

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/prometheus/storage"
	"golang.org/x/net/netutil"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify/alertmanager"
	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/names"
	"github.com/bulwarkhq/bulwark/collector/remotewrite"
	"github.com/bulwarkhq/bulwark/collector/sink/influx"
	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/collector/store"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/playbooks/drill"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

// Options configure an App.
type Options struct {
	Config *collectorconfig.Config
	// ConfigFile is where Config was read from; Reload reads it again.
	ConfigFile string
	// WebConfigFile is a Prometheus web configuration file (TLS, client
	// CAs); it overrides Config.Web.ConfigFile.
	WebConfigFile string
	// Agents overrides the token table built from Config.Agents, and
	// Users the one built from Config.Users.
	Agents *auth.Agents
	Users  *auth.Users
	// Receivers and Routes add notification receivers built in code (the
	// demo's terminal printer) to the configured ones.
	Receivers map[string]alerting.Receiver
	Routes    []alerting.Route
	Logger    *slog.Logger
}

// App is a running collector.
type App struct {
	opts   Options
	names  *names.Store       // what agents resolved for the collector
	signer ed25519.PrivateKey // signs audit exports (and, later, drill reports)
	// playbooks by name, and the runner; runCtx lives from Start to Stop.
	playbooks   *playbookSet
	runner      *runner.Runner
	runCtx      context.Context
	drills      *drill.Manager
	influx      *influx.Sink           // sinks.influxdb, when set
	remote      *remotewrite.Forwarder // storage.remote_write, when set
	series      storage.Queryable      // what queries read: the store, and query.url's
	receiverMap map[string]alerting.Receiver
	store       *store.TSDB
	registry    *prometheus.Registry
	server      *http.Server
	ln          net.Listener
	router      *router
	guard       *auth.Guard
	reloader    *reloader
	rules       *rule.Manager
	ingest      *ingest.Handler
	// alertmanager forwards alerts when alerting.alertmanagers is set.
	alertmanager *alertmanager.Sender
	// dispatcher notifies receivers when alerting.routes are set.
	dispatcher *alerting.Dispatcher
	// drillDispatcher notifies alerting.drill_receiver of drill alerts.
	drillDispatcher *alerting.Dispatcher
	silencer        *alerting.Silencer
	heartbeat       *alerting.Heartbeat
	// slackSecret verifies Slack's interactivity requests (Acknowledge).
	slackSecret string
	serveErr    chan error
	ready       atomic.Bool
	deps        *depgraph.Evaluator
	attributor  *attrib.Attributor
	state       *state.DB
	inv         *inventory.Store // imported targets, in the state database
	policy      attrib.Policy
	geo         *attrib.Geo
	stopDeps    context.CancelFunc
	depsDone    chan struct{}
	stopOnce    sync.Once
	stopErr     error

	// slackSeen refuses a replayed Slack request (issue 19 item 8).
	slackSeen replayCache
}

// New opens the store and builds the HTTP handlers; nothing listens yet.
func New(opts Options) (*App, error) {
	if opts.Config == nil {
		return nil, errors.New("collector: Config is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := opts.Config
	agents := opts.Agents
	if agents == nil || opts.Users == nil {
		confAgents, confUsers, err := c.Tables()
		if err != nil {
			return nil, fmt.Errorf("collector: %w", err)
		}
		if agents == nil {
			agents = confAgents
		}
		if opts.Users == nil {
			opts.Users = confUsers
		}
	}
	for _, w := range c.Warnings() {
		opts.Logger.Warn(w)
	}
	if err := checkDataFormat(c.DataDir); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st, err := store.OpenTSDB(filepath.Join(c.DataDir, "tsdb"), store.Options{
		Retention:        time.Duration(c.Storage.Retention),
		OutOfOrderWindow: time.Duration(c.Storage.OutOfOrderWindow),
	}, opts.Logger.With("component", "tsdb"), reg)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	a := &App{opts: opts, store: st, registry: reg, serveErr: make(chan error, 1)}
	if a.series, err = seriesQueryable(c, st); err != nil {
		st.Close()
		return nil, fmt.Errorf("collector: %w", err)
	}
	a.registerDiskMetrics()
	if f := a.webConfigFile(); f != "" {
		if err := web.Validate(f); err != nil {
			st.Close()
			return nil, fmt.Errorf("collector: web config %s: %w", f, err)
		}
	}
	mux, err := a.routes(agents)
	if err != nil {
		a.closeStores()
		return nil, err
	}
	a.server = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: time.Duration(c.Web.ReadHeaderTimeout),
		IdleTimeout:       time.Duration(c.Web.IdleTimeout),
		MaxHeaderBytes:    c.Web.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// closeStores closes what New opened, when New fails.
func (a *App) closeStores() {
	if a.state != nil {
		a.state.Close()
	}
	if a.geo != nil {
		a.geo.Close()
	}
	a.store.Close()
}

// Start listens on the configured address (or ln, when given) and serves,
// over TLS when a web configuration file says so.
func (a *App) Start(ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.opts.Config.Listen); err != nil {
			return fmt.Errorf("collector: listen: %w", err)
		}
	}
	a.ln = ln
	ln = netutil.LimitListener(ln, a.opts.Config.Web.MaxConnections)
	ctx, cancel := context.WithCancel(context.Background())
	a.stopDeps, a.depsDone = cancel, make(chan struct{})
	go func() { defer close(a.depsDone); a.deps.Run(ctx) }()
	a.runCtx = ctx
	a.runner.Resume(ctx)
	go a.runSchedules(ctx)
	go a.expireDrills(ctx)
	go a.runDrillSchedules(ctx)
	if a.influx != nil {
		go a.influx.Run(ctx)
	}
	if every := time.Duration(a.opts.Config.Storage.SelfMetricsInterval); every > 0 {
		go a.storeSelfMetrics(ctx, every)
	}
	go a.rules.Run()
	go a.inv.Watch(ctx, 0, a.opts.Logger.With("component", "inventory"), func() {
		if err := a.reloader.targetsChanged(); err != nil {
			a.opts.Logger.Warn("inventory: handing agents another collector's import", "err", err)
		}
	})
	if a.alertmanager != nil {
		go a.alertmanager.Run(ctx)
	}
	if a.dispatcher != nil {
		go a.dispatcher.Run(ctx)
	}
	if a.drillDispatcher != nil {
		go a.drillDispatcher.Run(ctx)
	}
	if a.heartbeat != nil {
		go a.heartbeat.Run(ctx)
	}
	a.ready.Store(true)
	webConfig := a.webConfigFile()
	logger := a.opts.Logger.With("component", "web")
	go func() {
		a.serveErr <- web.Serve(ln, a.server, &web.FlagConfig{WebConfigFile: &webConfig}, logger)
	}()
	a.opts.Logger.Info("collector listening", "addr", ln.Addr().String(), "tls", webConfig != "")
	return nil
}

// webConfigFile is the web configuration file in force, if any.
func (a *App) webConfigFile() string {
	if a.opts.WebConfigFile != "" {
		return a.opts.WebConfigFile
	}
	return a.opts.Config.Web.ConfigFile
}

// Addr is the address the collector listens on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Store is the collector's series store.
func (a *App) Store() *store.TSDB { return a.store }

// Registry is the collector's own metrics registry.
func (a *App) Registry() *prometheus.Registry { return a.registry }

// Done reports a serving error (such as the listener failing).
func (a *App) Done() <-chan error { return a.serveErr }

// Stop finishes in-flight requests, so what was accepted is stored, then
// closes the store, which writes its head to disk.
// A second Stop returns the first one's answer.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() { a.stopErr = a.stop(ctx) })
	return a.stopErr
}

func (a *App) stop(ctx context.Context) error {
	a.ready.Store(false)
	var errs []error
	if a.stopDeps != nil {
		a.stopDeps()
		<-a.depsDone
	}
	if a.runner != nil {
		a.runner.Wait() // runs save their state before the database closes
	}
	if a.rules != nil {
		a.rules.Stop()
	}
	if a.geo != nil {
		a.geo.Close()
	}
	if a.state != nil {
		if err := a.state.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close state: %w", err))
		}
	}
	if a.ln != nil {
		if err := a.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if a.influx != nil { // after the last request has queued its copy
		if err := a.influx.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the influxdb queue: %w", err))
		}
	}
	if a.remote != nil { // what the last requests stored, within its flush deadline
		if err := a.remote.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close remote write: %w", err))
		}
	}
	if err := a.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	return errors.Join(errs...)
}
