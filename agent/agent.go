// Package agent runs the probes of one vantage point on their schedules and
// hands the samples to the pusher. It imports nothing of the collector.
package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/agent/probe"
	"github.com/bulwarkhq/bulwark/agent/pull"
	"github.com/bulwarkhq/bulwark/agent/push"
	"github.com/bulwarkhq/bulwark/agent/scheduler"
	"github.com/bulwarkhq/bulwark/internal/queue"
	"github.com/bulwarkhq/bulwark/internal/selfmetrics"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Options configure an Agent.
type Options struct {
	Config *agentconfig.Config
	// Token authenticates to the collector (overrides the config's token source).
	Token string
	// RootCAs, when set, replaces the roots read from network.ca_file.
	RootCAs *x509.CertPool
	// PushClient, when set, sends the remote-write requests.
	PushClient *http.Client
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Agent probes targets and pushes the results.
type Agent struct {
	opts    Options
	env     *probe.Env
	queue   *queue.Queue
	pushers []*push.Pusher // one per collector, each through its own cursor
	puller  *pull.Puller   // nil unless targets come from the collector
	metrics *metrics
	client  *http.Client // to the collectors
	baseURL string       // the first collector's, for pulls and drills
	token   string       // the first collector's

	mu     sync.Mutex
	local  *agentconfig.Config // targets and defaults in force; Reload swaps it
	pulled []target.Target     // the collector's last list
	reload chan struct{}       // tells Run to build its jobs again

	drill atomic.Pointer[drillState] // the drill in force, if any
}

type metrics struct {
	probes   *prometheus.CounterVec
	lateness prometheus.Histogram
	skipped  prometheus.Counter
	drill    prometheus.GaugeFunc
}

// New validates opts and builds an Agent.
func New(opts Options) (*Agent, error) {
	if opts.Config == nil {
		return nil, errors.New("agent: Config is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	c := opts.Config
	env, err := ProbeEnv(c, opts.RootCAs, opts.Logger)
	if err != nil {
		return nil, err
	}
	token := opts.Token
	if token == "" {
		var err error
		if token, err = c.Collector.Token(); err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	client := opts.PushClient
	if client == nil {
		if client, err = CollectorClient(c.Collector); err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	endpoints := c.Collector.Endpoints()
	if len(endpoints) == 0 {
		return nil, errors.New("agent: no collector url")
	}
	q, pushers, tokens, err := openPushers(c, endpoints, client, token, opts)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	f := promauto.With(opts.Registerer)
	m := &metrics{
		probes: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "probes_total",
			Help: "Probes run, by check and result."}, []string{"check", "result"}),
		lateness: f.NewHistogram(prometheus.HistogramOpts{Namespace: "bulwark", Subsystem: "agent", Name: "schedule_lateness_seconds",
			Help: "How late probes started against their schedule.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}}),
		skipped: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "agent", Name: "probes_skipped_total",
			Help: "Probes not started because the previous run of the same target was still going."}),
	}
	// Targets and drills come from the first collector.
	a := &Agent{opts: opts, env: env, queue: q, pushers: pushers, metrics: m, local: c, reload: make(chan struct{}, 1), client: client,
		baseURL: endpoints[0].URL, token: tokens[0]}
	// Read at each scrape against the agent's own clock: the gauge falls to
	// 0 at the cut's expiry, whether or not the collector is there to say
	// the drill is over.
	m.drill = f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "agent", Name: "drill_active",
		Help: "1 while a drill's cut is in force (by the agent's own clock): every check also runs as if the cut had happened, labelled drill."},
		func() float64 {
			if a.Drill() != nil {
				return 1
			}
			return 0
		})
	if c.Collector.PullTargets {
		a.puller, err = pull.New(pull.Options{BaseURL: a.baseURL, AgentID: c.Collector.AgentID, Token: a.token, Client: client,
			CacheFile: filepath.Join(c.Queue.Dir, "targets.json"), Validate: agentconfig.ValidateTargets, Logger: opts.Logger})
		if err != nil {
			q.Close()
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	return a, nil
}

// ProbeEnv builds what the probers share from the network section of c.
// roots, when not nil, replaces network.ca_file.
func ProbeEnv(c *agentconfig.Config, roots *x509.CertPool, logger *slog.Logger) (*probe.Env, error) {
	env := &probe.Env{Resolver: c.Network.Resolver, RootCAs: roots, Logger: logger}
	if c.Network.SourceAddress != "" {
		a, err := netip.ParseAddr(c.Network.SourceAddress)
		if err != nil {
			return nil, fmt.Errorf("agent: source address: %w", err)
		}
		env.SourceAddr = a
	}
	if env.RootCAs == nil && c.Network.CAFile != "" {
		pool, err := loadRoots(c.Network.CAFile)
		if err != nil {
			return nil, fmt.Errorf("agent: network.ca_file: %w", err)
		}
		env.RootCAs = pool
	}
	return env, nil
}

func loadRoots(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Jobs returns the scheduler jobs for targets: each target's checks on
// its schedule, and its dependency observation on its deps schedule.
func (a *Agent) Jobs(targets []target.Target) ([]scheduler.Job, error) {
	var jobs []scheduler.Job
	for i := range targets {
		t := &targets[i]
		sched, err := scheduler.Parse(t.Schedule)
		if err != nil {
			return nil, fmt.Errorf("agent: target %s: %w", t.ID, err)
		}
		// Prepared once here, run many times by the scheduler.
		p, err := probe.Prepare(t)
		if err != nil {
			return nil, fmt.Errorf("agent: target %s: %w", t.ID, err)
		}
		if checks := t.EffectiveChecks(); len(checks) > 0 {
			jobs = append(jobs, scheduler.Job{Key: t.ID, Schedule: sched, Run: func(ctx context.Context, _ time.Time) {
				a.probeJob(ctx, t, p, checks)
			}})
		}
		if t.DepsSchedule == "" || t.DepsSchedule == "off" {
			continue
		}
		deps, err := scheduler.Parse(t.DepsSchedule)
		if err != nil {
			return nil, fmt.Errorf("agent: target %s: deps: %w", t.ID, err)
		}
		jobs = append(jobs, scheduler.Job{Key: t.ID + "/deps", Schedule: deps, Run: func(ctx context.Context, _ time.Time) {
			a.enqueue(t, a.probePrepared(ctx, p, a.env, "", "deps"))
		}})
	}
	return jobs, nil
}

// probeJob runs t's checks; under a drill it also runs them, at the same
// time, as if the cut had happened, labelled with the drill. Production
// monitoring goes on unchanged during a drill.
func (a *Agent) probeJob(ctx context.Context, t *target.Target, p *probe.Prepared, checks []string) {
	cut, env := a.drillEnv()
	if cut == nil {
		a.enqueue(t, a.probePrepared(ctx, p, a.env, "", checks...))
		return
	}
	var drilled []wire.Series
	done := make(chan struct{})
	go func() {
		defer close(done)
		drilled = a.probePrepared(ctx, p, env, cut.ID, checks...)
	}()
	a.enqueue(t, a.probePrepared(ctx, p, a.env, "", checks...))
	<-done
	a.enqueue(t, drilled)
}

func (a *Agent) enqueue(t *target.Target, series []wire.Series) {
	if err := a.queue.Append(series); err != nil {
		a.opts.Logger.Error("queue refused probe results", "target", t.ID, "err", err)
	}
}

// Run probes and pushes until ctx ends. What is not delivered by then
// stays in the disk queue for the next start.
func (a *Agent) Run(ctx context.Context) error {
	defer a.queue.Close()
	a.loadDrill()
	targets := a.config().Targets
	if a.puller != nil {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		pulled, err := a.puller.Fetch(fctx)
		cancel()
		if err != nil {
			a.opts.Logger.Warn("cannot pull targets from the collector, using the last good list", "err", err)
			if pulled, err = a.puller.Cached(); err != nil {
				a.opts.Logger.Warn("no cached target list either; probing local targets until the collector answers", "err", err)
			}
		}
		a.setPulled(pulled)
		targets = a.merge()
	}
	jobs, err := a.Jobs(targets)
	if err != nil {
		return err
	}
	s := scheduler.New(scheduler.Options{
		Logger:  a.opts.Logger,
		Observe: func(d time.Duration) { a.metrics.lateness.Observe(d.Seconds()) },
		Skipped: func(string) { a.metrics.skipped.Inc() },
	})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Run(gctx, jobs) })
	for _, p := range a.pushers {
		g.Go(func() error { return p.Run(gctx) })
	}
	if every := time.Duration(a.opts.Config.Collector.ResolveInterval); a.puller != nil && every > 0 {
		g.Go(func() error { return a.resolveNames(gctx, every) })
	}
	if every := time.Duration(a.opts.Config.Collector.SelfMetricsInterval); every > 0 {
		g.Go(func() error { return a.pushSelfMetrics(gctx, every) })
	}
	if a.puller != nil {
		g.Go(func() error { return a.pollDrill(gctx, time.Duration(a.opts.Config.Collector.PullInterval)) })
		g.Go(func() error {
			return a.puller.Run(gctx, time.Duration(a.opts.Config.Collector.PullInterval), func(pulled []target.Target) {
				a.setPulled(pulled)
				select {
				case a.reload <- struct{}{}:
				default:
				}
			})
		})
	}
	g.Go(func() error {
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-a.reload:
				jobs, err := a.Jobs(a.merge())
				if err != nil {
					a.opts.Logger.Error("new target list refused; keeping the old one", "err", err)
					continue
				}
				s.Update(gctx, jobs)
			}
		}
	})
	return g.Wait()
}

func (a *Agent) config() *agentconfig.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.local
}

func (a *Agent) setPulled(ts []target.Target) {
	a.mu.Lock()
	a.pulled = ts
	a.mu.Unlock()
}

// Reload takes the targets and defaults of a new configuration (SIGHUP).
// The collector, queue and network sections take effect at the next
// start; a change there is logged.
func (a *Agent) Reload(c *agentconfig.Config) error {
	if _, err := a.Jobs(c.Targets); err != nil {
		return err
	}
	old := a.config()
	if !reflect.DeepEqual(c.Collector, old.Collector) || c.Queue != old.Queue || c.Network != old.Network {
		a.opts.Logger.Warn("collector, queue and network settings change only at restart")
	}
	a.mu.Lock()
	a.local = c
	a.mu.Unlock()
	select {
	case a.reload <- struct{}{}:
	default:
	}
	return nil
}

// merge returns the local targets followed by the pulled ones (with the
// agent's defaults) whose ids are not local.
func (a *Agent) merge() []target.Target {
	a.mu.Lock()
	c, pulled := a.local, a.pulled
	a.mu.Unlock()
	out := slices.Clone(c.Targets)
	local := map[string]bool{}
	for _, t := range out {
		local[t.ID] = true
	}
	for _, t := range c.WithDefaults(slices.Clone(pulled)) {
		if !local[t.ID] {
			out = append(out, t)
		}
	}
	return out
}

// ProbeOnce runs the given checks of t once, one after the other, and
// returns the samples as series.
func (a *Agent) ProbeOnce(ctx context.Context, t *target.Target, checks ...string) []wire.Series {
	p, err := probe.Prepare(t)
	if err != nil {
		var out []wire.Series
		for _, check := range checks {
			out = append(out, a.record(t, probe.Result{Check: check, Err: err})...)
		}
		return out
	}
	return a.probePrepared(ctx, p, a.env, "", checks...)
}

// probePrepared runs checks one after the other in env; drillID labels
// the results of a run under a drill's cut.
func (a *Agent) probePrepared(ctx context.Context, p *probe.Prepared, env *probe.Env, drillID string, checks ...string) []wire.Series {
	var out []wire.Series
	for _, check := range checks {
		res := probe.RunPrepared(ctx, check, p, env)
		res.Drill = drillID
		out = append(out, a.record(p.Target, res)...)
	}
	return out
}

func (a *Agent) record(t *target.Target, res probe.Result) []wire.Series {
	result := "success"
	if !res.Success {
		result = "failure"
		a.opts.Logger.Debug("probe failed", "target", t.ID, "check", res.Check, "reason", probe.Reason(res.Err), "err", res.Err)
	}
	a.metrics.probes.WithLabelValues(res.Check, result).Inc()
	return Series(t, res, time.Now())
}

// Series turns a probe result into sorted-label series stamped at ts.
// All labels share one allocation.
func Series(t *target.Target, res probe.Result, ts time.Time) []wire.Series {
	ms := ts.UnixMilli()
	n := 0
	for _, m := range res.Metrics {
		n += 5 + len(m.Labels)/2 + len(t.Labels)
	}
	all := make([]wire.Label, 0, n)
	samples := make([]wire.Sample, len(res.Metrics))
	out := make([]wire.Series, 0, len(res.Metrics))
	for i, m := range res.Metrics {
		start := len(all)
		all = append(all, wire.Label{Name: "__name__", Value: m.Name},
			wire.Label{Name: "check", Value: res.Check},
			wire.Label{Name: "sector", Value: t.Sector},
			wire.Label{Name: "target", Value: t.ID})
		for i := 0; i+1 < len(m.Labels); i += 2 {
			all = append(all, wire.Label{Name: m.Labels[i], Value: m.Labels[i+1]})
		}
		for k, v := range t.Labels {
			all = append(all, wire.Label{Name: k, Value: v})
		}
		if res.Drill != "" {
			all = append(all, wire.Label{Name: "drill", Value: res.Drill})
		}
		ls := all[start:len(all):len(all)]
		slices.SortFunc(ls, func(a, b wire.Label) int { return strings.Compare(a.Name, b.Name) })
		samples[i] = wire.Sample{Value: m.Value, Timestamp: ms}
		out = append(out, wire.Series{Labels: ls, Samples: samples[i : i+1 : i+1]})
	}
	return out
}

// pushSelfMetrics queues the agent's own metrics every interval, with its
// probe results: the collector stamps them with the agent and vantage.
func (a *Agent) pushSelfMetrics(ctx context.Context, every time.Duration) error {
	g, ok := a.opts.Registerer.(prometheus.Gatherer)
	if !ok {
		return nil
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			series, err := selfmetrics.Series(g, selfmetrics.Prefix("bulwark_agent_"), now.UnixMilli())
			if err != nil {
				a.opts.Logger.Warn("cannot gather the agent's own metrics", "err", err)
				continue
			}
			if err := a.queue.Append(series); err != nil {
				a.opts.Logger.Warn("queue refused the agent's own metrics", "err", err)
			}
		}
	}
}

// Queue exposes the agent's disk queue.
func (a *Agent) Queue() *queue.Queue { return a.queue }
