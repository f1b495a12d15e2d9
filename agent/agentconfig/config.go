// Package agentconfig is the agent's configuration file: where to push, how to
// reach the network, and which targets to probe on which schedule.
package agentconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/agent/scheduler"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// Config is the whole agent configuration file.
type Config struct {
	Collector Collector       `yaml:"collector"`
	Queue     Queue           `yaml:"queue"`
	Network   Network         `yaml:"network"`
	Defaults  Defaults        `yaml:"defaults"`
	Targets   []target.Target `yaml:"targets"`
}

// Collector says where samples go and how the agent proves who it is.
type Collector struct {
	// URL is the collector's base URL; samples go to URL/api/v1/write.
	URL string `yaml:"url"`
	// URLs lists several collectors, each sent every sample through its
	// own cursor of the one disk queue (docs/AGENT-HA.md). Set url or
	// urls, not both; targets and drills are pulled from the first.
	URLs []Endpoint `yaml:"urls"`
	// TokenFile or TokenEnv hold the agent's bearer token.
	TokenFile string `yaml:"token_file"`
	TokenEnv  string `yaml:"token_env"`
	// CAFile verifies an HTTPS collector (the system roots otherwise), as
	// ServerName (default: the URL's host).
	CAFile     string `yaml:"ca_file"`
	ServerName string `yaml:"server_name"`
	// CertFile and KeyFile are the agent's client certificate (mTLS): the
	// collector maps it to this agent, with or without a token. They are
	// read again at each new connection, so a renewed certificate is used
	// without a restart.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// BatchSize is the most series per request (default 2000).
	BatchSize int `yaml:"batch_size"`
	// AgentID names this agent; needed to pull targets.
	AgentID string `yaml:"agent_id"`
	// PullTargets takes the target list from the collector (in addition to
	// any listed here), polled every PullInterval (default 1m).
	PullTargets  bool                `yaml:"pull_targets"`
	PullInterval configfile.Duration `yaml:"pull_interval"`
	// ResolveInterval is how often an agent that pulls its targets also
	// resolves, for the collector, the name servers it cannot attribute by
	// name (default 1h; 0s: never).
	ResolveInterval configfile.Duration `yaml:"resolve_interval"`
	// SelfMetricsInterval is how often the agent pushes its own metrics
	// (queue, pushes, probes, lateness) with its results, so the
	// collector shows agents' health (default 30s; 0s: never).
	SelfMetricsInterval configfile.Duration `yaml:"self_metrics_interval"`
}

// Queue is the disk queue that holds samples until the collector has them.
type Queue struct {
	// Dir holds the queue's segments (default ./queue).
	Dir string `yaml:"dir"`
	// MaxBytes bounds the queue on disk; the oldest samples go first (default 256 MiB).
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxAge drops samples older than this (default 24h).
	MaxAge configfile.Duration `yaml:"max_age"`
}

// Network is how probes reach the targets.
type Network struct {
	// Resolver is a DNS server "host:port" used for every lookup (default: the system's).
	Resolver string `yaml:"resolver"`
	// SourceAddress is the local address probes dial from.
	SourceAddress string `yaml:"source_address"`
	// CAFile adds roots for verifying probed services (the system roots otherwise).
	CAFile string `yaml:"ca_file"`
}

// Defaults apply to every target that does not set its own.
type Defaults struct {
	Schedule string              `yaml:"schedule"`
	Timeout  configfile.Duration `yaml:"timeout"`
	// DepsSchedule is when dependencies are observed ("off": never).
	DepsSchedule string `yaml:"deps_schedule"`
}

// Default returns the values of a new Config.
func Default() Config {
	return Config{
		Collector: Collector{BatchSize: 2000, PullInterval: configfile.Duration(time.Minute), ResolveInterval: configfile.Duration(time.Hour),
			SelfMetricsInterval: configfile.Duration(30 * time.Second)},
		Queue:    Queue{Dir: "queue", MaxBytes: 256 << 20, MaxAge: configfile.Duration(24 * time.Hour)},
		Defaults: Defaults{Schedule: "@every 30s", Timeout: configfile.Duration(10 * time.Second), DepsSchedule: "@hourly"},
	}
}

// UnmarshalYAML fills in defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Default()
	type plain Config
	return unmarshal((*plain)(c))
}

// Load reads and validates an agent configuration file.
func Load(path string) (*Config, error) {
	c := Default()
	if err := configfile.LoadFile(path, &c); err != nil {
		return nil, err
	}
	c.applyDefaults()
	return &c, nil
}

func (c *Config) applyDefaults() { c.Targets = c.WithDefaults(c.Targets) }

// WithDefaults fills in the schedule, timeout and deps schedule of ts from
// the defaults section.
func (c *Config) WithDefaults(ts []target.Target) []target.Target {
	for i := range ts {
		t := &ts[i]
		if t.Schedule == "" {
			t.Schedule = c.Defaults.Schedule
		}
		if t.Timeout == 0 {
			t.Timeout = c.Defaults.Timeout
		}
		if t.DepsSchedule == "" {
			t.DepsSchedule = c.Defaults.DepsSchedule
		}
	}
	return ts
}

// ValidateTargets checks targets that come from elsewhere than the file
// (the collector), with the same rules.
func ValidateTargets(ts []target.Target) error {
	c := Default()
	c.Collector.URL = "http://collector"
	c.Collector.PullTargets, c.Collector.AgentID = true, "x"
	c.Targets = ts
	var msgs []string
	for _, p := range c.Validate() {
		msgs = append(msgs, p.Path.String()+": "+p.Msg)
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// Validate reports every problem of the configuration.
func (c *Config) Validate() []configfile.Problem {
	var ps []configfile.Problem
	p := func(path configfile.Path, f string, a ...any) { ps = append(ps, configfile.At(path, f, a...)) }
	if c.Collector.URL == "" && len(c.Collector.URLs) == 0 {
		p(configfile.Path{"collector"}, "url is required")
	} else if c.Collector.URL != "" && !httpURL(c.Collector.URL) {
		p(configfile.Path{"collector", "url"}, "%q is not an http or https URL", c.Collector.URL)
	}
	c.Collector.validateURLs(p)
	if c.Collector.TokenFile != "" && c.Collector.TokenEnv != "" {
		p(configfile.Path{"collector", "token_env"}, "set token_file or token_env, not both")
	}
	if (c.Collector.CertFile == "") != (c.Collector.KeyFile == "") {
		p(configfile.Path{"collector"}, "cert_file and key_file go together")
	}
	if c.Collector.BatchSize <= 0 {
		p(configfile.Path{"collector", "batch_size"}, "must be positive")
	}
	if c.Queue.Dir == "" {
		p(configfile.Path{"queue", "dir"}, "must not be empty")
	}
	if c.Queue.MaxBytes < 1<<20 {
		p(configfile.Path{"queue", "max_bytes"}, "must be at least 1 MiB (1048576)")
	}
	if c.Queue.MaxAge < configfile.Duration(time.Minute) {
		p(configfile.Path{"queue", "max_age"}, "must be at least 1m")
	}
	if c.Network.SourceAddress != "" {
		if _, err := netip.ParseAddr(c.Network.SourceAddress); err != nil {
			p(configfile.Path{"network", "source_address"}, "%q is not an IP address", c.Network.SourceAddress)
		}
	}
	if _, err := scheduler.Parse(c.Defaults.Schedule); err != nil {
		p(configfile.Path{"defaults", "schedule"}, "%v", err)
	}
	if d := c.Defaults.DepsSchedule; d != "off" {
		if _, err := scheduler.Parse(d); err != nil {
			p(configfile.Path{"defaults", "deps_schedule"}, "%v", err)
		}
	}
	if len(c.Targets) == 0 && !c.Collector.PullTargets {
		p(nil, "no targets: add at least one under targets, or set collector.pull_targets")
	}
	if c.Collector.PullTargets && c.Collector.AgentID == "" {
		p(configfile.Path{"collector"}, "pull_targets needs agent_id")
	}
	if c.Collector.PullInterval < configfile.Duration(time.Second) {
		p(configfile.Path{"collector", "pull_interval"}, "must be at least 1s")
	}
	if ri := c.Collector.ResolveInterval; ri != 0 && ri < configfile.Duration(time.Second) {
		p(configfile.Path{"collector", "resolve_interval"}, "must be at least 1s, or 0s for never")
	}
	if si := c.Collector.SelfMetricsInterval; si != 0 && si < configfile.Duration(time.Second) {
		p(configfile.Path{"collector", "self_metrics_interval"}, "must be at least 1s, or 0s for never")
	}
	seen := map[string]int{}
	for i := range c.Targets {
		t := &c.Targets[i]
		for _, tp := range t.Validate() {
			p(configfile.Path{"targets", i, tp.Field}, "%s", tp.Msg)
		}
		if t.Schedule != "" {
			if _, err := scheduler.Parse(t.Schedule); err != nil {
				p(configfile.Path{"targets", i, "schedule"}, "%v", err)
			}
		}
		if d := t.DepsSchedule; d != "" && d != "off" {
			if _, err := scheduler.Parse(d); err != nil {
				p(configfile.Path{"targets", i, "deps_schedule"}, "%v", err)
			}
		}
		if j, dup := seen[t.ID]; dup && t.ID != "" {
			p(configfile.Path{"targets", i, "id"}, "duplicate id %q (first at targets[%d])", t.ID, j)
		}
		seen[t.ID] = i
	}
	return ps
}

// Token reads the agent's shared bearer token from its file or environment
// variable. It also fails when a collector's own token_file cannot be
// read, so that `bulwark-agent check` finds it.
func (c *Collector) Token() (string, error) {
	tok, err := configfile.Secret(c.TokenFile, c.TokenEnv)
	if err != nil {
		return "", fmt.Errorf("collector token: %w", err)
	}
	for _, e := range c.Endpoints() {
		if _, err := e.Token(tok); err != nil {
			return "", err
		}
	}
	return tok, nil
}
