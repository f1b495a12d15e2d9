// Package collector is the Bulwark collector as an embeddable app:
// New(Options), Start, Stop(ctx). It receives samples, stores them, and
// serves the query API, the console and its own metrics.
package collector

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/net/netutil"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify/alertmanager"
	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/cluster"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/console"
	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/names"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/collector/sink/influx"
	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/collector/store"
	"github.com/bulwarkhq/bulwark/collector/targets"
	"github.com/bulwarkhq/bulwark/collector/zone"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/playbooks"
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
	playbooks   map[string]*playbooks.Playbook
	runner      *runner.Runner
	runCtx      context.Context
	drills      *drill.Manager
	influx      *influx.Sink // sinks.influxdb, when set
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
	policy      attrib.Policy
	geo         *attrib.Geo
	stopDeps    context.CancelFunc
	depsDone    chan struct{}
	stopOnce    sync.Once
	stopErr     error

	// slackSeen refuses a replayed Slack request (issue 19 item 8).
	slackSeen replayCache

	// cluster is this collector's membership of those sharing the state.
	cluster     *cluster.Cluster
	clusterDone chan struct{}
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

func (a *App) routes(agents *auth.Agents) (*http.ServeMux, error) {
	ing, err := ingest.New(ingest.Options{Store: a.store, Agents: agents, Limits: a.opts.Config.Limits,
		Logger: a.opts.Logger.With("component", "ingest"), Registerer: a.registry})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	qc := a.opts.Config.Query
	api, err := query.New(query.Options{Queryable: a.store, Logger: a.opts.Logger.With("component", "query"),
		Registerer: a.registry, Timeout: time.Duration(qc.Timeout), MaxConcurrent: qc.MaxConcurrent,
		MaxSamples: qc.MaxSamples, LogFile: qc.LogFile,
		Limits: query.Limits{MaxLabelBytes: uint64(qc.MaxLabelBytes), MaxQueryLength: qc.MaxQueryLength,
			MaxRequestBytes: int64(qc.MaxRequestBytes)}})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	inv, err := inventory.Open(filepath.Join(a.opts.Config.DataDir, "state", "targets.json"))
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if err := a.sovereignty(); err != nil {
		return nil, err
	}
	if err := a.newCluster(); err != nil {
		return nil, err
	}
	zones := zone.NewStore(filepath.Join(a.opts.Config.DataDir, "state", "zone"))
	if a.names, err = names.Open(filepath.Join(a.opts.Config.DataDir, "state", "names.json")); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	reports, err := zone.NewReports(zone.ReportsOptions{Store: zones, Attributor: a.attributor, Policy: &a.policy,
		Types: func() map[string]string { return inventory.Types(inv) }, TypesVersion: inv.Version,
		Resolved: a.names.Lookup, ResolvedVersion: a.names.Version,
		Registerer: a.registry, Logger: a.opts.Logger.With("component", "zone")})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	a.names.Wanted = func() []string { return unglued(zones, reports) }
	con, err := console.New(console.Options{Engine: api.Engine(), Queryable: a.store, Logger: a.opts.Logger,
		Targets:      func() []target.Target { return a.reloader.targets() },
		Alerting:     a.consoleAlerts,
		Dependencies: a.deps.Tracker().Services,
		Drift:        func() []depgraph.Drift { return a.deps.Tracker().Events("") },
		DNSReport: func() (*zone.Report, error) {
			origins, err := zones.Origins()
			if err != nil || len(origins) == 0 {
				return nil, fmt.Errorf("no zone imported: run `bulwark zone import FILE`")
			}
			return reports.Get(context.Background(), origins[0])
		}})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	tl, err := targets.New(agents, nil)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	users := a.opts.Users
	if a.guard, err = auth.NewGuard(agents, users, a.opts.Config.Auth.AnonymousRole); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	a.reloader = newReloader(a, tl, inv)
	if err := a.reloader.targetsChanged(); err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	mux := &router{mux: http.NewServeMux(), guard: a.guard, publicMetric: a.opts.Config.Auth.PublicMetrics,
		queryTimeout: time.Duration(a.opts.Config.Query.Timeout)}
	a.router = mux
	a.ingest = ing
	if err := a.newRules(api); err != nil {
		return nil, err
	}
	if err := a.newPlaybooks(api.Engine()); err != nil {
		return nil, err
	}
	if err := a.newDrills(); err != nil {
		return nil, err
	}
	ing.SetDrills(a.drills.Known)
	if err := a.newSinks(ing); err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /api/v1/drills", a.drillList)
	mux.HandleFunc("GET /api/v1/drills/{id}", a.drillList)
	mux.HandleFunc("POST /api/v1/drills", a.drillStart)
	mux.HandleFunc("POST /api/v1/drills/{id}/stop", a.drillStop)
	mux.HandleFunc("GET /api/v1/drills/{id}/report", a.drillReport)
	mux.HandleFunc("GET /api/v1/admin/backup", a.backupHandler)
	mux.HandleFunc("GET /api/v1/agents/{id}/drill", a.agentDrill(agents))
	mux.HandleFunc("GET /api/v1/playbooks", a.playbookList)
	mux.HandleFunc("GET /api/v1/playbooks/runs", a.playbookRuns)
	mux.HandleFunc("GET /api/v1/playbooks/runs/{id}", a.playbookRuns)
	mux.HandleFunc("GET /api/v1/playbooks/runs/{id}/export", a.playbookRunExport)
	mux.HandleFunc("POST /api/v1/playbooks/{name}/run", a.playbookRun)
	mux.HandleFunc("POST /api/v1/playbooks/runs/{id}/approve", a.playbookAnswer)
	mux.HandleFunc("POST /api/v1/playbooks/runs/{id}/tick", a.playbookAnswer)
	mux.HandleFunc("POST /api/v1/playbooks/kill", a.playbookKill)
	mux.HandleFunc("GET /api/v1/rules", a.rules.ServeRules)
	mux.HandleFunc("GET /api/v1/alerts", a.rules.ServeAlerts)
	mux.HandleFunc("GET /api/v1/incidents", a.incidents)
	mux.HandleFunc("POST /api/v1/incidents/ack", a.acknowledge)
	mux.HandleFunc("GET /api/v1/silences", a.listSilences)
	mux.HandleFunc("POST /api/v1/silences", a.addSilence)
	mux.HandleFunc("DELETE /api/v1/silences/{id}", a.expireSilence)
	mux.HandleFunc("GET /api/v1/audit", a.auditLog)
	mux.HandleFunc("GET /api/v1/audit/export", a.auditExport)
	mux.HandleFunc("POST /api/v1/slack/interactions", a.slackInteractions)
	mux.HandleFunc("GET /api/v1/status/cluster", a.clusterStatus)
	mux.HandleFunc("/api/", notFound)
	mux.Handle("/api/v1/write", ing)
	mux.Handle("GET /api/v1/agents/{id}/targets", tl)
	mux.Handle("POST /api/v1/targets/import", inventory.ImportHandler(inv, a.reloader.targetsChanged))
	mux.HandleFunc("POST /-/reload", a.reloader.serveHTTP)
	if a.opts.Config.Web.EnablePprof {
		mux.HandleFunc("/debug/pprof/", servePprof)
	}
	api.Register(mux)
	a.deps.Register(mux)
	mux.HandleFunc("GET /api/v1/dependencies/history", func(w http.ResponseWriter, r *http.Request) {
		h, err := a.state.History(r.Context(), r.URL.Query().Get("target"))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": h})
	})
	mux.Handle("GET /api/v1/reports/dns", zone.ReportHandler(reports))
	mux.Handle("GET /api/v1/agents/{id}/names", a.names.Handler(agents))
	mux.Handle("POST /api/v1/agents/{id}/names", a.names.Handler(agents))
	con.Register(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Bulwark is healthy.") })
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "Bulwark is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, a.readyText())
	})
	return mux.mux, mux.err()
}

// sovereignty loads the catalog, the geo databases and the policy, and
// builds the dependency evaluator.
func (a *App) sovereignty() error {
	ac := a.opts.Config.Attribution
	cat, err := attrib.LoadCatalog(ac.CatalogFiles...)
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	if ac.GeoDir != "" {
		if a.geo, err = attrib.OpenGeo(ac.GeoDir); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		if stale := a.geo.Staleness(time.Now()); stale != "" {
			a.opts.Logger.Warn("attribution: "+stale, "geo_dir", ac.GeoDir)
		}
	} else {
		a.opts.Logger.Warn("no attribution.geo_dir: addresses are attributed only through the catalog's names")
	}
	pol := ac.Policy
	crit := map[string]int{}
	for _, t := range a.opts.Config.Targets {
		crit[t.ID] = t.Criticality
	}
	if pol.Home == "" {
		a.opts.Logger.Warn("no attribution.policy.home: no dependency counts as foreign")
	}
	roots, err := ac.Roots()
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	a.attributor, a.policy = &attrib.Attributor{Catalog: cat, Geo: a.geo, Roots: roots}, pol
	if err := os.MkdirAll(filepath.Join(a.opts.Config.DataDir, "state"), 0o750); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	if a.state, err = openState(context.Background(), a.opts.Config); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	if a.signer, err = signingKey(filepath.Join(a.opts.Config.DataDir, "state")); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	a.deps, err = depgraph.NewEvaluator(depgraph.EvaluatorOptions{
		Queryable: a.store, Appendable: a.store,
		Attributor: a.attributor, Policy: &a.policy,
		Interval: time.Duration(ac.Interval), Window: time.Duration(ac.Window),
		State: a.state, Criticality: crit, Logger: a.opts.Logger.With("component", "depgraph"),
		DriftFor: time.Duration(a.opts.Config.Alerting.Builtin.WithDefaults().DriftFor),
	})
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	return nil
}

// Dependencies is the dependency evaluator.
func (a *App) Dependencies() *depgraph.Evaluator { return a.deps }

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
	a.startCluster(ctx)
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
	a.stopCluster()
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
	if err := a.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	return errors.Join(errs...)
}
