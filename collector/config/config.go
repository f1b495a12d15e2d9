// Package config is the collector's configuration file.
package config

import (
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/bulwarkhq/bulwark/collector/attrib"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/internal/config"
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
}

// Attribution configures who is behind each dependency and which
// jurisdictions count as foreign.
type Attribution struct {
	// GeoDir holds country.mmdb and asn.mmdb (or GeoLite2-*.mmdb); empty:
	// addresses are attributed by the catalog's names only.
	GeoDir string `yaml:"geo_dir"`
	// CatalogFiles extend or override the shipped provider catalog.
	CatalogFiles []string      `yaml:"catalog_files"`
	Policy       attrib.Policy `yaml:"policy"`
	// Interval between evaluations (default 1m); Window is how old the
	// newest observation of a service may be (default 3h).
	Interval target.Duration `yaml:"interval"`
	Window   target.Duration `yaml:"window"`
}

// Storage configures the embedded TSDB.
type Storage struct {
	Retention        target.Duration `yaml:"retention"`
	OutOfOrderWindow target.Duration `yaml:"out_of_order_window"`
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

// Default is the configuration of an empty file.
var Default = Config{
	Listen:  "127.0.0.1:9400",
	DataDir: "data",
	Storage: Storage{
		Retention:        target.Duration(15 * 24 * time.Hour),
		OutOfOrderWindow: target.Duration(6 * time.Hour),
	},
	Attribution: Attribution{Interval: target.Duration(time.Minute), Window: target.Duration(3 * time.Hour)},
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
	if err := config.LoadFile(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// Validate reports every problem of the configuration.
func (c *Config) Validate() []config.Problem {
	var ps []config.Problem
	p := func(path config.Path, f string, a ...any) { ps = append(ps, config.At(path, f, a...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p(config.Path{"listen"}, "%q is not host:port", c.Listen)
	}
	if c.DataDir == "" {
		p(config.Path{"data_dir"}, "must not be empty")
	}
	if c.Storage.Retention <= 0 {
		p(config.Path{"storage", "retention"}, "must be positive")
	}
	if c.Storage.OutOfOrderWindow < 0 {
		p(config.Path{"storage", "out_of_order_window"}, "must not be negative")
	}
	seen := map[string]int{}
	for i, a := range c.Agents {
		if !slugRE.MatchString(a.ID) {
			p(config.Path{"agents", i, "id"}, "agent id %q must be lower-case letters, digits and dashes", a.ID)
		}
		if j, dup := seen[a.ID]; dup {
			p(config.Path{"agents", i, "id"}, "duplicate agent id %q (first at agents[%d])", a.ID, j)
		}
		seen[a.ID] = i
		if a.Vantage == "" {
			p(config.Path{"agents", i}, "agent %q needs a vantage (home, abroad, an ISP name)", a.ID)
		}
		if a.Country != "" && !countryRE.MatchString(a.Country) {
			p(config.Path{"agents", i, "country"}, "%q is not a two-letter country code", a.Country)
		}
		if setCount(a.TokenFile, a.TokenEnv, a.TokenSHA256) != 1 {
			p(config.Path{"agents", i}, "agent %q needs exactly one of token_file, token_env, token_sha256", a.ID)
		}
	}
	for i, u := range c.Users {
		if !slugRE.MatchString(u.ID) {
			p(config.Path{"users", i, "id"}, "user id %q must be lower-case letters, digits and dashes", u.ID)
		}
		if !auth.ValidRole(u.Role) {
			p(config.Path{"users", i, "role"}, "role %q must be viewer, operator or admin", u.Role)
		}
		if setCount(u.TokenFile, u.TokenEnv, u.TokenSHA256) != 1 {
			p(config.Path{"users", i}, "user %q needs exactly one of token_file, token_env, token_sha256", u.ID)
		}
	}
	ps = append(ps, c.Attribution.Policy.Validate(config.Path{"attribution", "policy"})...)
	if c.Attribution.Interval < target.Duration(time.Second) {
		p(config.Path{"attribution", "interval"}, "must be at least 1s")
	}
	if c.Attribution.Window < c.Attribution.Interval {
		p(config.Path{"attribution", "window"}, "must be at least the interval")
	}
	seenT := map[string]int{}
	for i := range c.Targets {
		t := &c.Targets[i]
		for _, tp := range t.Validate() {
			p(config.Path{"targets", i, tp.Field}, "%s", tp.Msg)
		}
		for field, spec := range map[string]string{"schedule": t.Schedule, "deps_schedule": t.DepsSchedule} {
			if spec != "" && spec != "off" {
				if _, err := target.ParseSchedule(spec); err != nil {
					p(config.Path{"targets", i, field}, "%v", err)
				}
			}
		}
		if j, dup := seenT[t.ID]; dup && t.ID != "" {
			p(config.Path{"targets", i, "id"}, "duplicate id %q (first at targets[%d])", t.ID, j)
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

// UserTable builds the API users' token table.
func (c *Config) UserTable() (*auth.Users, error) {
	t := auth.NewUsers()
	for _, u := range c.Users {
		tok, hashed := u.TokenSHA256, true
		if tok == "" {
			var err error
			if tok, err = config.Secret(u.TokenFile, u.TokenEnv); err != nil {
				return nil, fmt.Errorf("user %q: %w", u.ID, err)
			}
			hashed = false
		}
		if err := t.Add(tok, hashed, auth.User{ID: u.ID, Role: u.Role}); err != nil {
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
		if a.TokenSHA256 != "" {
			if err := t.AddHash(a.TokenSHA256, id); err != nil {
				return nil, err
			}
			continue
		}
		tok, err := config.Secret(a.TokenFile, a.TokenEnv)
		if err != nil {
			return nil, fmt.Errorf("agent %q: %w", a.ID, err)
		}
		if err := t.Add(tok, id); err != nil {
			return nil, err
		}
	}
	return t, nil
}
