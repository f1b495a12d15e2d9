package collectorconfig

import (
	"net"
	"regexp"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/target"
)

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
		if n := setCount(u.TokenFile, u.TokenEnv, u.TokenSHA256); n > 1 || n == 0 && u.PasswordHash == "" {
			p(configfile.Path{"users", i}, "user %q needs exactly one of token_file, token_env, token_sha256 (or a password_hash alone)", u.ID)
		}
		ps = append(ps, u.validatePassword(configfile.Path{"users", i})...)
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
	ps = append(ps, validateRemoteWrite(c.Storage.RemoteWrite, c.Query)...)
	ps = append(ps, c.State.validate(configfile.Path{"state"})...)
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
