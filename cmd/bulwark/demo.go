package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify/slack"
	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// demoOptions configure a demo run.
type demoOptions struct {
	Listen  string
	DataDir string
	// Pace holds every interval of the demo.
	Pace demoPace
	// Out receives the notifications, as a Slack channel would show them.
	Out io.Writer
	// Notified, when set, is also handed every notification (tests).
	Notified func(*alerting.Notification)
	Logger   *slog.Logger
	// Ready, when set, receives the collector's address once it serves.
	Ready func(addr string)
}

// demoPace is every interval of the demo: `bulwark demo` runs at
// realPace, tests run the same demo faster. Probe, Deps and Attribution
// are required; another zero field takes its component's default.
type demoPace struct {
	Probe       time.Duration // agents probe every service; rules evaluate as often
	Deps        time.Duration // agents observe the services' dependencies
	Attribution time.Duration // the collector attributes them and tracks drift
	Resolve     time.Duration // agents resolve name servers for the collector (1h)
	Pull        time.Duration // agents pull their targets (1m)
	// AgentSelfMetrics and CollectorSelfMetrics: how often each writes
	// its own metrics (30s, 15s).
	AgentSelfMetrics, CollectorSelfMetrics time.Duration
	Flap                                   time.Duration // the flapping service's up and down phases (20s)
	// DriftAfter is when water-utility's DNS moves abroad (2m);
	// OutageAfter is when Cathay DNS, shared by several services, goes
	// down (0: never), for OutageFor (0: to the end).
	DriftAfter, OutageAfter, OutageFor time.Duration
	// ForeignCriticalFor is how long a layer newly foreign-critical waits
	// before ForeignCriticalLayerNew fires (10m).
	ForeignCriticalFor time.Duration
}

// realPace is the pace of `bulwark demo` (its drift and outage times are
// also flags).
func realPace() demoPace {
	return demoPace{Probe: 15 * time.Second, Deps: time.Minute, Attribution: 30 * time.Second, Resolve: time.Hour,
		Pull: time.Minute, AgentSelfMetrics: 30 * time.Second, CollectorSelfMetrics: 15 * time.Second, Flap: 20 * time.Second,
		DriftAfter: 2 * time.Minute, OutageAfter: 4 * time.Minute, OutageFor: 3 * time.Minute, ForeignCriticalFor: 10 * time.Minute}
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "bulwark demo [--listen ADDR] [--data DIR] [--drift-after DURATION]", stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:9400", "collector listen `address`")
	data := fs.String("data", "", "data `directory` (a temporary one, removed at exit, when empty)")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	pace := realPace()
	fs.DurationVar(&pace.DriftAfter, "drift-after", pace.DriftAfter, "when the drifting service's DNS moves abroad (counted from the agents' first results)")
	fs.DurationVar(&pace.OutageAfter, "outage-after", pace.OutageAfter, "when Cathay DNS, a foreign provider several services share, goes down (counted likewise; 0: never)")
	fs.DurationVar(&pace.OutageFor, "outage-for", pace.OutageFor, "how long that outage lasts")
	if _, err := parseFlags(fs, args, 0, stdout); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "bulwark-demo-"); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	return startDemo(ctx, demoOptions{Listen: *listen, DataDir: dir, Pace: pace, Out: stdout, Logger: logger,
		Ready: func(addr string) {
			fmt.Fprintf(stdout, `Bulwark demo: the nation of Arcadia, %d critical services, 2 agents (home, abroad).
  Console:   http://%s/
  Query API: http://%s/api/v1/query?query=count(probe_success)
  Metrics:   http://%s/metrics
  Data:      %s
Anyone who can reach %s may read (auth.anonymous_role: viewer, for the demo only).
An operator token is in %s (bulwark ... --token-file FILE, or BULWARK_TOKEN).
Log in to the console (http://%s/login) as demo-operator with the password in %s.
Press Ctrl-C to stop.
`, demo.ServiceCount(), addr, addr, addr, dir, addr, filepath.Join(dir, demoOperatorToken), addr, filepath.Join(dir, demoOperatorPassword))
		}})
}

// demoOperatorToken is the file in the data directory holding the demo's
// operator token.
const demoOperatorToken = "demo-operator.token"

// demoOperatorPassword is the file holding the console password of the
// demo's operator (user demo-operator).
const demoOperatorPassword = "demo-operator.password"

// startDemo runs the demo world, a collector and a home and an abroad agent
// until ctx ends.
func startDemo(ctx context.Context, o demoOptions) error {
	pace := o.Pace
	if pace.Probe <= 0 || pace.Deps <= 0 || pace.Attribution <= 0 {
		return fmt.Errorf("demo: the probe, dependency and attribution intervals are required (%+v)", pace)
	}
	worldDir := filepath.Join(o.DataDir, "world")
	if err := os.MkdirAll(worldDir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	begin := make(chan struct{}) // the clock of the DNS move and the outage
	world, err := demo.Start(demo.Options{Dir: worldDir, DriftAfter: pace.DriftAfter, OutageAfter: pace.OutageAfter, OutageFor: pace.OutageFor,
		Begin: begin, FlapPeriod: pace.Flap, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer world.Close()

	vantages := []struct {
		id, vantage, country string
		source               string
	}{
		{"home-1", "home", "XA", demo.HomeSource().String()},
		{"abroad-1", "abroad", "XC", demo.AbroadSource().String()},
	}
	agents := auth.NewAgents()
	tokens := map[string]string{}
	for _, v := range vantages {
		tokens[v.id] = rand.Text()
		if err := agents.Add(tokens[v.id], auth.Identity{Agent: v.id, Vantage: v.vantage, Country: v.country}); err != nil {
			return err
		}
	}
	users := auth.NewUsers()
	opToken := rand.Text()
	if err := os.WriteFile(filepath.Join(o.DataDir, demoOperatorToken), []byte(opToken+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := users.Add(opToken, false, auth.User{ID: "demo-operator", Role: auth.RoleOperator}); err != nil {
		return err
	}
	if err := demoLogin(o.DataDir, users); err != nil {
		return err
	}
	var targets []target.Target
	for _, s := range world.Services {
		targets = append(targets, target.Target{ID: s.ID, Name: s.Name, Sector: s.Sector, Operator: s.Operator,
			Criticality: s.Criticality, URL: s.URL, Timeout: configfile.Duration(5 * time.Second)})
	}
	cfg := collectorconfig.Default()
	cfg.Listen = o.Listen
	cfg.DataDir = o.DataDir
	cfg.Targets = targets // the agents pull them
	cfg.Attribution.GeoDir = world.GeoDir
	cfg.Attribution.CatalogFiles = []string{world.CatalogFile}
	cfg.Attribution.Policy = attrib.Policy{Home: "XA", Trusted: []string{"XB"}}
	cfg.Attribution.Interval = configfile.Duration(pace.Attribution)
	if pace.CollectorSelfMetrics > 0 {
		cfg.Storage.SelfMetricsInterval = configfile.Duration(pace.CollectorSelfMetrics)
	}
	cfg.Auth.AnonymousRole = auth.RoleViewer // the demo's console and API are open to read
	// Alerting at the demo's pace: votes count for three probe intervals, an
	// outage fires after two, a DNS move after two dependency evaluations.
	every := pace.Probe
	cfg.Alerting.EvaluationInterval = configfile.Duration(every)
	cfg.Alerting.DefaultProbeInterval = configfile.Duration(every)
	// The slow service (demo.SlowDelay) is above its objective for four intervals.
	cfg.Alerting.Builtin = rule.Builtin{VoteWindow: configfile.Duration(3 * every), DownFor: rule.DurationOf(2 * every),
		DriftFor: configfile.Duration(2 * pace.Attribution), LatencyFor: configfile.Duration(4 * every),
		ForeignCriticalFor: configfile.Duration(pace.ForeignCriticalFor)}
	// Playbooks, a drill route, RTOs and the national zone (demo_journeys.go).
	j, err := startJourneys(o, world, &cfg, every)
	if err != nil {
		return err
	}
	defer j.Close()
	// Notifications print to the terminal as a Slack channel would show
	// them: availability, certificates, drift, one incident per shared cause.
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	var printer alerting.Receiver = &slack.Printer{W: out, ConsoleURL: "http://" + o.Listen + "/"}
	if o.Notified != nil {
		printer = teeReceiver{printer, o.Notified}
	}
	terminal := map[string]alerting.Receiver{"terminal": printer}
	routes := []alerting.Route{{Receiver: "terminal", MatchRE: map[string]string{"severity": "page|warning|ticket"}, GroupBy: []string{"classification"},
		GroupWait: configfile.Duration(2 * every), GroupInterval: configfile.Duration(5 * every)}}
	app, err := collector.New(collector.Options{Config: &cfg, Agents: agents, Users: users, Receivers: terminal, Routes: routes,
		Logger: o.Logger.With("component", "collector")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		app.Stop(context.Background())
		return fmt.Errorf("demo: listen: %w", err)
	}
	if err := app.Start(ln); err != nil {
		app.Stop(context.Background())
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := app.Stop(sctx); err != nil {
			o.Logger.Error("collector stop", "err", err)
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	for _, v := range vantages {
		ac := agentconfig.Default()
		ac.Collector.URL = "http://" + app.Addr()
		ac.Network = agentconfig.Network{Resolver: world.DNS.Addr, SourceAddress: v.source}
		ac.Queue.Dir = filepath.Join(o.DataDir, "queue-"+v.id)
		ac.Collector.AgentID = v.id
		ac.Collector.PullTargets = true
		for _, f := range []struct {
			dst *configfile.Duration
			src time.Duration
		}{{&ac.Collector.ResolveInterval, pace.Resolve}, {&ac.Collector.PullInterval, pace.Pull}, {&ac.Collector.SelfMetricsInterval, pace.AgentSelfMetrics}} {
			if f.src > 0 {
				*f.dst = configfile.Duration(f.src)
			}
		}
		ac.Defaults.Schedule = "@every " + pace.Probe.String()
		ac.Defaults.DepsSchedule = "@every " + pace.Deps.String()
		a, err := agent.New(agent.Options{Config: &ac, Token: tokens[v.id], RootCAs: world.Roots,
			Logger: o.Logger.With("component", "agent", "agent", v.id), Registerer: prometheus.NewRegistry()})
		if err != nil {
			return err
		}
		g.Go(func() error { return a.Run(gctx) })
	}
	g.Go(func() error {
		beginWhenReported(gctx, app.Registry(), len(vantages), begin)
		return nil
	})
	if o.Ready != nil {
		o.Ready(app.Addr())
	}
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case err := <-app.Done():
			return fmt.Errorf("collector: %w", err)
		}
	})
	return g.Wait()
}

// demoLogin gives demo-operator a random console password, written to
// demoOperatorPassword in dir as the token is.
func demoLogin(dir string, users *auth.Users) error {
	pw := rand.Text()
	if err := os.WriteFile(filepath.Join(dir, demoOperatorPassword), []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	h, err := auth.HashPassword(pw, auth.DefaultArgon2())
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return users.AddPassword(h, auth.User{ID: "demo-operator", Role: auth.RoleOperator})
}

// beginWhenReported closes begin once n agents have pushed results. The
// demo's DNS move and outage count from then, not from the world's start:
// every agent has observed the services before the move (so it is drift
// from a baseline), and the timings mean the same at any pace.
func beginWhenReported(ctx context.Context, g prometheus.Gatherer, n int, begin chan<- struct{}) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for reportedAgents(g) < n {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	close(begin)
}

// reportedAgents counts the agents the collector has stored samples of.
func reportedAgents(g prometheus.Gatherer) int {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == "bulwark_ingest_samples_total" {
			for _, m := range mf.GetMetric() {
				if m.GetCounter().GetValue() > 0 {
					n++
				}
			}
		}
	}
	return n
}

// teeReceiver hands every notification to a function, then to a receiver.
type teeReceiver struct {
	alerting.Receiver
	tee func(*alerting.Notification)
}

func (t teeReceiver) Notify(ctx context.Context, n *alerting.Notification) (bool, error) {
	t.tee(n)
	return t.Receiver.Notify(ctx, n)
}
