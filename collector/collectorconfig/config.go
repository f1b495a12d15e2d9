// Package collectorconfig is the collector's configuration file.
package collectorconfig

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/target"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// Config is the whole collector configuration.
type Config struct {
	// Listen is the HTTP address (default 127.0.0.1:9400).
	Listen string `yaml:"listen"`
	// DataDir holds the TSDB and the state database (default ./data).
	DataDir string        `yaml:"data_dir"`
	Storage Storage       `yaml:"storage"`
	Limits  ingest.Limits `yaml:"limits"`
	Agents  []Agent       `yaml:"agents"`
	// Users of the JSON API, with roles viewer, operator or admin.
	Users []User `yaml:"users"`
	// Targets are handed to agents that pull their list from the collector.
	Targets     []target.Target `yaml:"targets"`
	Attribution Attribution     `yaml:"attribution"`
	Auth        Auth            `yaml:"auth"`
	Web         Web             `yaml:"web"`
	Query       Query           `yaml:"query"`
	Alerting    Alerting        `yaml:"alerting"`
	Playbooks   Playbooks       `yaml:"playbooks"`
	Drills      []Drill         `yaml:"drills"`
	Sinks       Sinks           `yaml:"sinks"`
	// State is where the state database lives (SQLite by default).
	State State `yaml:"state"`
	// Cluster names this collector among those sharing the state.
	Cluster Cluster `yaml:"cluster"`
}

// Auth says who may do what without a token.
type Auth struct {
	// AnonymousRole is the role of a request with no credentials at all
	// (default none: every route but health needs a token). The demo sets viewer.
	AnonymousRole auth.Role `yaml:"anonymous_role"`
	// PublicMetrics serves /metrics to anyone (default: viewer, so a
	// Prometheus scrapes it with an authorization bearer token).
	PublicMetrics bool `yaml:"public_metrics"`
}

// Web bounds the HTTP server against slow and greedy clients.
type Web struct {
	// ConfigFile is a Prometheus web configuration file (TLS, client CAs);
	// the --web.config.file flag overrides it.
	ConfigFile string `yaml:"config_file"`
	// ReadHeaderTimeout bounds a request's headers (default 10s), IdleTimeout
	// a keep-alive connection between requests (default 2m). The body and the
	// answer are bounded per route class (30s, writes 1m, queries the query
	// timeout plus 30s, imports 5m).
	ReadHeaderTimeout configfile.Duration `yaml:"read_header_timeout"`
	IdleTimeout       configfile.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConnections caps open connections (default 4096); more wait to be accepted.
	MaxConnections int `yaml:"max_connections"`
	// EnablePprof serves /debug/pprof/ to admins (default off).
	EnablePprof bool `yaml:"enable_pprof"`
}

// Query bounds PromQL evaluation.
type Query struct {
	Timeout       configfile.Duration `yaml:"timeout"`        // default 30s
	MaxConcurrent int                 `yaml:"max_concurrent"` // default 8; more wait, up to their timeout
	MaxSamples    int                 `yaml:"max_samples"`    // default 5,000,000 loaded at once per query
	// LogFile receives one JSON line per query: who, what, how long (optional).
	LogFile string `yaml:"log_file"`
	// MaxLabelBytes bounds the label bytes a query may hold, label_join and
	// label_replace growth counted, and a series/labels answer (default 16 MiB).
	MaxLabelBytes int `yaml:"max_label_bytes"`
	// MaxQueryLength bounds a query's text (default 16 KiB).
	MaxQueryLength int `yaml:"max_query_length"`
	// MaxRequestBytes bounds a query request's form body (default 256 KiB).
	MaxRequestBytes int `yaml:"max_request_bytes"`
}

// Attribution configures who is behind each dependency and which
// jurisdictions count as foreign.
type Attribution struct {
	// GeoDir holds country.mmdb and asn.mmdb (or GeoLite2-*.mmdb); empty:
	// addresses are attributed by the catalog's names only.
	GeoDir string `yaml:"geo_dir"`
	// CatalogFiles extend or override the shipped provider catalog.
	CatalogFiles []string `yaml:"catalog_files"`
	// TrustStore is a PEM bundle or a directory of PEM files of trusted
	// root certificates: CAs the catalog does not name are attributed to
	// the country of the root they are, or chain to (default Debian's
	// /etc/ssl/certs/ca-certificates.crt when present; "none" for no store).
	TrustStore string        `yaml:"trust_store"`
	Policy     attrib.Policy `yaml:"policy"`
	// Interval between evaluations (default 1m); Window is how old the
	// newest observation of a service may be (default 3h).
	Interval configfile.Duration `yaml:"interval"`
	Window   configfile.Duration `yaml:"window"`
}

// Roots loads the trust store: the one configured, else Debian's bundle
// when present (nil, no error, when there is none or it is "none").
func (a Attribution) Roots() (*attrib.TrustStore, error) {
	switch a.TrustStore {
	case "none":
		return nil, nil
	case "":
		if _, err := os.Stat(attrib.DefaultTrustStore); err != nil {
			return nil, nil
		}
		return attrib.LoadTrustStore(attrib.DefaultTrustStore)
	}
	return attrib.LoadTrustStore(a.TrustStore)
}

// Playbooks configures the emergency-response playbooks.
type Playbooks struct {
	// Files are playbook files (globs allowed).
	Files []string `yaml:"files"`
	// ExecAllow lists the commands exec steps may run (absolute, clean
	// paths); nothing else runs, and never through a shell.
	ExecAllow []string `yaml:"exec_allow"`
}

// PlaybookEnv is what playbooks are checked against: the configured
// receivers, the roles, the exec allow-list.
func (c *Config) PlaybookEnv() *step.Env {
	env := &step.Env{Receivers: map[string]bool{}, Roles: map[string]bool{}, ExecAllow: c.Playbooks.ExecAllow}
	for _, r := range c.Alerting.Receivers {
		env.Receivers[r.Name] = true
	}
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin} {
		env.Roles[string(r)] = true
	}
	return env
}

// Storage configures the embedded TSDB.
type Storage struct {
	Retention        configfile.Duration `yaml:"retention"`
	OutOfOrderWindow configfile.Duration `yaml:"out_of_order_window"`
	// SelfMetricsInterval is how often the collector stores its own
	// bulwark_* metrics (ingest, notifications, incidents) in the store,
	// for dashboards (default 15s; 0s: never).
	SelfMetricsInterval configfile.Duration `yaml:"self_metrics_interval"`
}

// Agent is one agent allowed to push. Its token comes from a file, an
// environment variable, or is given as its SHA-256 (never inline).
type Agent struct {
	ID          string `yaml:"id"`
	Vantage     string `yaml:"vantage"`
	Country     string `yaml:"country"`
	TokenFile   string `yaml:"token_file"`
	TokenEnv    string `yaml:"token_env"`
	TokenSHA256 string `yaml:"token_sha256"`
	// CertName lets a client certificate authenticate this agent: its
	// subject common name or a DNS name (verified against the web
	// configuration's client_ca_file).
	CertName string `yaml:"cert_name"`
}

// User is a person or tool using the API; its token comes from a file, an
// environment variable, or is given as its SHA-256.
type User struct {
	ID          string `yaml:"id"`
	Role        string `yaml:"role"`
	TokenFile   string `yaml:"token_file"`
	TokenEnv    string `yaml:"token_env"`
	TokenSHA256 string `yaml:"token_sha256"`
}

// DefaultOutOfOrderWindow covers an agent's default queue age (24h) with
// an hour to spare: an agent that was cut off for a day delivers it all.
const DefaultOutOfOrderWindow = configfile.Duration(25 * time.Hour)

// AgentQueueMaxAge is the agent's default queue.max_age; Warnings compares
// the out-of-order window with it.
const AgentQueueMaxAge = 24 * time.Hour

// Warnings are settings that are valid but likely to lose data.
func (c *Config) Warnings() []string {
	var ws []string
	if w := time.Duration(c.Storage.OutOfOrderWindow); w < AgentQueueMaxAge {
		ws = append(ws, fmt.Sprintf("storage.out_of_order_window %s is shorter than the agents' default queue.max_age %s: "+
			"after an outage longer than %s, the older queued samples are refused; set both to agree", w, AgentQueueMaxAge, w))
	}
	return ws
}

// Default is the configuration of an empty file.
var Default = Config{
	Listen:  "127.0.0.1:9400",
	DataDir: "data",
	Storage: Storage{
		Retention:           configfile.Duration(15 * 24 * time.Hour),
		OutOfOrderWindow:    DefaultOutOfOrderWindow,
		SelfMetricsInterval: configfile.Duration(15 * time.Second),
	},
	Attribution: Attribution{Interval: configfile.Duration(time.Minute), Window: configfile.Duration(3 * time.Hour)},
	Web: Web{
		ReadHeaderTimeout: configfile.Duration(10 * time.Second),
		IdleTimeout:       configfile.Duration(2 * time.Minute),
		MaxHeaderBytes:    64 << 10,
		MaxConnections:    4096,
	},
	Query: Query{Timeout: configfile.Duration(30 * time.Second), MaxConcurrent: 8, MaxSamples: 5_000_000,
		MaxLabelBytes: 16 << 20, MaxQueryLength: 16 << 10, MaxRequestBytes: 256 << 10},
	Alerting: Alerting{EvaluationInterval: configfile.Duration(15 * time.Second), DefaultProbeInterval: configfile.Duration(30 * time.Second)},
}

// UnmarshalYAML fills in defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Default
	type plain Config
	return unmarshal((*plain)(c))
}

// Load reads and validates a collector configuration file.
func Load(path string) (*Config, error) {
	c := Default
	if err := configfile.LoadFile(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
var sha256RE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// Validate reports every problem of the configuration.
func (c *Config) Validate() []configfile.Problem {
	var ps []configfile.Problem
	p := func(path configfile.Path, f string, a ...any) { ps = append(ps, configfile.At(path, f, a...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p(configfile.Path{"listen"}, "%q is not host:port", c.Listen)
	}
	if c.DataDir == "" {
		p(configfile.Path{"data_dir"}, "must not be empty")
	}
	if c.Storage.Retention <= 0 {
		p(configfile.Path{"storage", "retention"}, "must be positive")
	}
	if si := c.Storage.SelfMetricsInterval; si != 0 && si < configfile.Duration(time.Second) {
		p(configfile.Path{"storage", "self_metrics_interval"}, "must be at least 1s, or 0s for never")
	}
	if c.Storage.OutOfOrderWindow < 0 {
		p(configfile.Path{"storage", "out_of_order_window"}, "must not be negative")
	}
	seen := map[string]int{}
	for i, a := range c.Agents {
		if !slugRE.MatchString(a.ID) {
			p(configfile.Path{"agents", i, "id"}, "agent id %q must be lower-case letters, digits and dashes", a.ID)
		}
		if j, dup := seen[a.ID]; dup {
			p(configfile.Path{"agents", i, "id"}, "duplicate agent id %q (first at agents[%d])", a.ID, j)
		}
		seen[a.ID] = i
		if a.Vantage == "" {
			p(configfile.Path{"agents", i}, "agent %q needs a vantage (home, abroad, an ISP name)", a.ID)
		}
		if a.Country != "" && !countryRE.MatchString(a.Country) {
			p(configfile.Path{"agents", i, "country"}, "%q is not a two-letter country code", a.Country)
		}
		if a.TokenSHA256 != "" && !sha256RE.MatchString(a.TokenSHA256) {
			p(configfile.Path{"agents", i, "token_sha256"}, "is not 64 hex digits (the SHA-256 of the token: printf %%s TOKEN | sha256sum)")
		}
		if n := setCount(a.TokenFile, a.TokenEnv, a.TokenSHA256); n > 1 || n == 0 && a.CertName == "" {
			p(configfile.Path{"agents", i}, "agent %q needs exactly one of token_file, token_env, token_sha256 (or a cert_name alone)", a.ID)
		}
	}
	seenU := map[string]int{}
	for i, u := range c.Users {
		if j, dup := seenU[u.ID]; dup {
			p(configfile.Path{"users", i, "id"}, "duplicate user id %q (first at users[%d])", u.ID, j)
		}
		seenU[u.ID] = i
		if !slugRE.MatchString(u.ID) {
			p(configfile.Path{"users", i, "id"}, "user id %q must be lower-case letters, digits and dashes", u.ID)
		}
		if !auth.ValidRole(auth.Role(u.Role)) {
			p(configfile.Path{"users", i, "role"}, "role %q must be viewer, operator or admin", u.Role)
		}
		if u.TokenSHA256 != "" && !sha256RE.MatchString(u.TokenSHA256) {
			p(configfile.Path{"users", i, "token_sha256"}, "is not 64 hex digits (the SHA-256 of the token: printf %%s TOKEN | sha256sum)")
		}
		if setCount(u.TokenFile, u.TokenEnv, u.TokenSHA256) != 1 {
			p(configfile.Path{"users", i}, "user %q needs exactly one of token_file, token_env, token_sha256", u.ID)
		}
	}
	if r := c.Auth.AnonymousRole; r != "" && !auth.ValidRole(r) {
		p(configfile.Path{"auth", "anonymous_role"}, "role %q must be viewer, operator or admin (or left out)", r)
	}
	if c.Web.ReadHeaderTimeout <= 0 || c.Web.IdleTimeout <= 0 {
		p(configfile.Path{"web"}, "read_header_timeout and idle_timeout must be positive")
	}
	if c.Web.MaxHeaderBytes < 4096 {
		p(configfile.Path{"web", "max_header_bytes"}, "must be at least 4096")
	}
	if c.Web.MaxConnections < 16 {
		p(configfile.Path{"web", "max_connections"}, "must be at least 16")
	}
	if c.Query.Timeout <= 0 || c.Query.MaxConcurrent <= 0 || c.Query.MaxSamples <= 0 {
		p(configfile.Path{"query"}, "timeout, max_concurrent and max_samples must be positive")
	}
	if c.Query.MaxLabelBytes < 1<<20 {
		p(configfile.Path{"query", "max_label_bytes"}, "must be at least 1048576 (1 MiB)")
	}
	if c.Query.MaxQueryLength < 1024 {
		p(configfile.Path{"query", "max_query_length"}, "must be at least 1024")
	}
	if c.Query.MaxRequestBytes < c.Query.MaxQueryLength {
		p(configfile.Path{"query", "max_request_bytes"}, "must be at least max_query_length")
	}
	ps = append(ps, c.Alerting.Validate(configfile.Path{"alerting"})...)
	ps = append(ps, c.Alerting.validateSlackUsers(c.Users, configfile.Path{"alerting"})...)
	ps = append(ps, c.Playbooks.validate(configfile.Path{"playbooks"})...)
	ps = append(ps, validateDrills(c.Drills)...)
	ps = append(ps, c.Sinks.validate()...)
	ps = append(ps, c.State.validate(configfile.Path{"state"})...)
	ps = append(ps, c.Cluster.validate(configfile.Path{"cluster"})...)
	ps = append(ps, c.Attribution.Policy.Validate(configfile.Path{"attribution", "policy"})...)
	if c.Attribution.Interval < configfile.Duration(time.Second) {
		p(configfile.Path{"attribution", "interval"}, "must be at least 1s")
	}
	if c.Attribution.Window < c.Attribution.Interval {
		p(configfile.Path{"attribution", "window"}, "must be at least the interval")
	}
	seenT := map[string]int{}
	for i := range c.Targets {
		t := &c.Targets[i]
		for _, tp := range t.Validate() {
			p(configfile.Path{"targets", i, tp.Field}, "%s", tp.Msg)
		}
		for field, spec := range map[string]string{"schedule": t.Schedule, "deps_schedule": t.DepsSchedule} {
			if spec != "" && spec != "off" {
				if _, err := target.ParseSchedule(spec); err != nil {
					p(configfile.Path{"targets", i, field}, "%v", err)
				}
			}
		}
		if j, dup := seenT[t.ID]; dup && t.ID != "" {
			p(configfile.Path{"targets", i, "id"}, "duplicate id %q (first at targets[%d])", t.ID, j)
		}
		seenT[t.ID] = i
	}
	return ps
}

// setCount counts the non-empty strings.
func setCount(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// Tables builds the agents' and the users' token tables, refusing a token
// shared by an agent and a user.
func (c *Config) Tables() (*auth.Agents, *auth.Users, error) {
	agents, err := c.AgentTable()
	if err != nil {
		return nil, nil, err
	}
	users, err := c.UserTable()
	if err != nil {
		return nil, nil, err
	}
	if a, u, shared := agents.SharedWith(users); shared {
		return nil, nil, fmt.Errorf("agent %q and user %q share a token", a, u)
	}
	return agents, users, nil
}

// UserTable builds the API users' token table.
func (c *Config) UserTable() (*auth.Users, error) {
	t := auth.NewUsers()
	for _, u := range c.Users {
		tok, hashed := u.TokenSHA256, true
		if tok == "" {
			var err error
			if tok, err = configfile.Secret(u.TokenFile, u.TokenEnv); err != nil {
				return nil, fmt.Errorf("user %q: %w", u.ID, err)
			}
			hashed = false
		}
		if err := t.Add(tok, hashed, auth.User{ID: u.ID, Role: auth.Role(u.Role)}); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// AgentTable builds the token table, reading token files and variables.
func (c *Config) AgentTable() (*auth.Agents, error) {
	t := auth.NewAgents()
	for _, a := range c.Agents {
		id := auth.Identity{Agent: a.ID, Vantage: a.Vantage, Country: a.Country}
		if a.CertName != "" {
			if err := t.AddCert(a.CertName, id); err != nil {
				return nil, err
			}
		}
		if a.TokenSHA256 == "" && a.TokenFile == "" && a.TokenEnv == "" {
			continue
		}
		if a.TokenSHA256 != "" {
			if err := t.AddHash(a.TokenSHA256, id); err != nil {
				return nil, err
			}
			continue
		}
		tok, err := configfile.Secret(a.TokenFile, a.TokenEnv)
		if err != nil {
			return nil, fmt.Errorf("agent %q: %w", a.ID, err)
		}
		if err := t.Add(tok, id); err != nil {
			return nil, err
		}
	}
	return t, nil
}
