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
	"strings"
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
	Listen       string
	DataDir      string
	Schedule     string
	DepsSchedule string
	DepsEvery    time.Duration // how often the collector re-evaluates dependencies
	DriftAfter   time.Duration
	// OutageAfter is when Cathay DNS, shared by several services, goes
	// down, for OutageFor (0: never; OutageFor 0: to the end).
	OutageAfter, OutageFor time.Duration
	// ResolveEvery is how often agents resolve name servers for the
	// collector (0: the agent's default, an hour).
	ResolveEvery time.Duration
	// Out receives the notifications, as a Slack channel would show them.
	Out    io.Writer
	Logger *slog.Logger
	// Ready, when set, receives the collector's address once it serves.
	Ready func(addr string)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "bulwark demo [--listen ADDR] [--data DIR] [--drift-after DURATION]", stdout, stderr)
	listen := fs.String("listen", "127.0.0.1:9400", "collector listen `address`")
	data := fs.String("data", "", "data `directory` (a temporary one, removed at exit, when empty)")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	drift := fs.Duration("drift-after", 2*time.Minute, "when the drifting service's DNS moves abroad")
	outage := fs.Duration("outage-after", 4*time.Minute, "when Cathay DNS, a foreign provider several services share, goes down (0: never)")
	outageFor := fs.Duration("outage-for", 3*time.Minute, "how long that outage lasts")
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
	return startDemo(ctx, demoOptions{Listen: *listen, DataDir: dir, Schedule: "@every 15s", DepsSchedule: "@every 1m", DepsEvery: 30 * time.Second, DriftAfter: *drift, OutageAfter: *outage, OutageFor: *outageFor, Out: stdout, Logger: logger,
		Ready: func(addr string) {
			fmt.Fprintf(stdout, `Bulwark demo: the nation of Arcadia, %d critical services, 2 agents (home, abroad).
  Console:   http://%s/
  Query API: http://%s/api/v1/query?query=count(probe_success)
  Metrics:   http://%s/metrics
  Data:      %s
Anyone who can reach %s may read (auth.anonymous_role: viewer, for the demo only).
An operator token is in %s (bulwark ... --token-file FILE, or BULWARK_TOKEN).
Press Ctrl-C to stop.
`, demo.ServiceCount(), addr, addr, addr, dir, addr, filepath.Join(dir, demoOperatorToken))
		}})
}

// demoOperatorToken is the file in the data directory holding the demo's
// operator token.
const demoOperatorToken = "demo-operator.token"

// startDemo runs the demo world, a collector and a home and an abroad agent
// until ctx ends.
func startDemo(ctx context.Context, o demoOptions) error {
	worldDir := filepath.Join(o.DataDir, "world")
	if err := os.MkdirAll(worldDir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	world, err := demo.Start(demo.Options{Dir: worldDir, DriftAfter: o.DriftAfter, OutageAfter: o.OutageAfter, OutageFor: o.OutageFor, Logger: o.Logger})
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
	cfg.Attribution.Interval = configfile.Duration(o.DepsEvery)
	cfg.Auth.AnonymousRole = auth.RoleViewer // the demo's console and API are open to read
	// Alerting at the demo's pace: votes count for three probe intervals, an
	// outage fires after two, a DNS move after two dependency evaluations.
	every := 15 * time.Second
	if d, ok := strings.CutPrefix(o.Schedule, "@every "); ok {
		if v, err := time.ParseDuration(d); err == nil {
			every = v
		}
	}
	cfg.Alerting.EvaluationInterval = configfile.Duration(every)
	cfg.Alerting.DefaultProbeInterval = configfile.Duration(every)
	// The slow service (demo.SlowDelay) is above its objective for four intervals.
	cfg.Alerting.Builtin = rule.Builtin{VoteWindow: configfile.Duration(3 * every), DownFor: rule.DurationOf(2 * every),
		DriftFor: configfile.Duration(2 * o.DepsEvery), LatencyFor: configfile.Duration(4 * every)}
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
	terminal := map[string]alerting.Receiver{"terminal": &slack.Printer{W: out, ConsoleURL: "http://" + o.Listen + "/"}}
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
		if o.ResolveEvery > 0 {
			ac.Collector.ResolveInterval = configfile.Duration(o.ResolveEvery)
		}
		ac.Defaults.Schedule = o.Schedule
		ac.Defaults.DepsSchedule = o.DepsSchedule
		a, err := agent.New(agent.Options{Config: &ac, Token: tokens[v.id], RootCAs: world.Roots,
			Logger: o.Logger.With("component", "agent", "agent", v.id), Registerer: prometheus.NewRegistry()})
		if err != nil {
			return err
		}
		g.Go(func() error { return a.Run(gctx) })
	}
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
