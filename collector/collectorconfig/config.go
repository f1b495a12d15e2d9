// Package collectorconfig is the collector's configuration file.
package collectorconfig

import (
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/target"
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
	// URL, when set, is a shared store's Prometheus API (VictoriaMetrics:
	// http://vm:8428) whose raw samples queries, rules and reports read
	// beside the embedded store's: what every collector of a cluster
	// forwarded (storage.remote_write) is answered by each.
	URL string `yaml:"url"`
	// BearerTokenFile holds the token sent to URL (optional).
	BearerTokenFile string `yaml:"bearer_token_file"`
	// MaxLabelBytes bounds the label bytes a query may hold, label_join and
	// label_replace growth counted, and a series/labels answer (default 16 MiB).
	MaxLabelBytes int `yaml:"max_label_bytes"`
	// MaxQueryLength bounds a query's text (default 16 KiB).
	MaxQueryLength int `yaml:"max_query_length"`
	// MaxRequestBytes bounds a query request's form body (default 256 KiB).
	MaxRequestBytes int `yaml:"max_request_bytes"`
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
	// PasswordHash lets the user log in to the console (passwords.go).
	PasswordHash string `yaml:"password_hash"`
}

// UnmarshalYAML fills in defaults before decoding.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = Default()
	type plain Config
	return unmarshal((*plain)(c))
}

// Load reads and validates a collector configuration file.
func Load(path string) (*Config, error) {
	c := Default()
	if err := configfile.LoadFile(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
