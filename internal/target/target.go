// Package target is the model of a monitored service, shared by the agent
// (which probes it) and the collector (which serves and stores it).
package target

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Target is one monitored service and how to probe it.
type Target struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name,omitempty" json:"name,omitempty"`
	Sector      string `yaml:"sector" json:"sector"`
	Operator    string `yaml:"operator,omitempty" json:"operator,omitempty"`
	Criticality int    `yaml:"criticality,omitempty" json:"criticality,omitempty"`
	// Type is the kind of body (ministry, city, county, regulator, ...)
	// and Contact whom to call; neither is put on series.
	Type    string `yaml:"type,omitempty" json:"type,omitempty"`
	Contact string `yaml:"contact,omitempty" json:"contact,omitempty"`
	// RTO is the recovery time objective: how long the service may stay
	// lost. Drill reports measure recovery against it.
	RTO configfile.Duration `yaml:"rto,omitempty" json:"rto,omitempty"`
	// URL is what HTTP, TLS and dependency checks look at.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Host is a name or host:port for targets without a URL (DNS, TCP).
	Host string `yaml:"host,omitempty" json:"host,omitempty"`
	// Checks lists the probes to run: http, tls, dns, tcp (default: http,
	// and tls too for https URLs). Dependencies run on DepsSchedule.
	Checks       []string            `yaml:"checks,omitempty" json:"checks,omitempty"`
	Schedule     string              `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	DepsSchedule string              `yaml:"deps_schedule,omitempty" json:"deps_schedule,omitempty"`
	Timeout      configfile.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Labels       map[string]string   `yaml:"labels,omitempty" json:"labels,omitempty"`
	HTTP         HTTP                `yaml:"http,omitempty" json:"http,omitzero"`
	TLS          TLS                 `yaml:"tls,omitempty" json:"tls,omitzero"`
	DNS          DNS                 `yaml:"dns,omitempty" json:"dns,omitzero"`
	TCP          TCP                 `yaml:"tcp,omitempty" json:"tcp,omitzero"`
}

// HTTP holds the options of the HTTP probe.
type HTTP struct {
	Method           string            `yaml:"method,omitempty" json:"method,omitempty"`
	Headers          map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Body             string            `yaml:"body,omitempty" json:"body,omitempty"`
	ValidStatusCodes []int             `yaml:"valid_status_codes,omitempty" json:"valid_status_codes,omitempty"`
	// BodyRegex must match the body (its first MaxBodyBytes) for success.
	BodyRegex string `yaml:"body_regex,omitempty" json:"body_regex,omitempty"`
	// MaxRedirects bounds redirects followed (default 10; -1: follow none).
	MaxRedirects int `yaml:"max_redirects,omitempty" json:"max_redirects,omitempty"`
	// IPProtocol is "ip4" or "ip6": the family tried first (default ip4).
	IPProtocol string `yaml:"ip_protocol,omitempty" json:"ip_protocol,omitempty"`
	// NoFallback forbids the other family when IPProtocol has no address.
	NoFallback bool `yaml:"no_fallback,omitempty" json:"no_fallback,omitempty"`
}

// TLS holds the options of the TLS probe.
type TLS struct {
	// Address is host:port (default: the URL's host and port, or Host:443).
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	// ServerName for SNI and verification (default: the address's host).
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
}

// DNS holds the options of the DNS probe.
type DNS struct {
	// Name to query (default: the URL's or Host's name).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Type of query (default A).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Resolver "host:port" for this target (default: the agent's).
	Resolver string `yaml:"resolver,omitempty" json:"resolver,omitempty"`
	// ValidRcodes (default NOERROR).
	ValidRcodes []string `yaml:"valid_rcodes,omitempty" json:"valid_rcodes,omitempty"`
	// AnswerRegex must match at least one answer record in zone-file form.
	AnswerRegex string `yaml:"answer_regex,omitempty" json:"answer_regex,omitempty"`
	// DNSSEC sets the DO bit and records the AD bit and RRSIG expiry.
	DNSSEC bool `yaml:"dnssec,omitempty" json:"dnssec,omitempty"`
	// RequireAD fails the probe unless the answer is authenticated.
	RequireAD bool `yaml:"require_ad,omitempty" json:"require_ad,omitempty"`
}

// TCP holds the options of the TCP probe.
type TCP struct {
	// Address is host:port (default: Host).
	Address string `yaml:"address,omitempty" json:"address,omitempty"`
	// TLS wraps the connection in TLS after connecting.
	TLS bool `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Steps run in order: send a line, or expect a line matching a regex.
	Steps []TCPStep `yaml:"steps,omitempty" json:"steps,omitempty"`
}

// TCPStep is one step of a TCP conversation.
type TCPStep struct {
	Send   string `yaml:"send,omitempty" json:"send,omitempty"`
	Expect string `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// EffectiveChecks returns the checks to run: the listed ones, or http
// (with tls for https URLs) by default.
func (t *Target) EffectiveChecks() []string {
	if len(t.Checks) > 0 {
		return t.Checks
	}
	if strings.HasPrefix(t.URL, "https://") {
		return []string{"http", "tls"}
	}
	if t.URL != "" {
		return []string{"http"}
	}
	return nil
}

// Hostname is the DNS name (or address) of the target, from URL or Host.
func (t *Target) Hostname() string {
	if t.URL != "" {
		if u, err := url.Parse(t.URL); err == nil {
			return u.Hostname()
		}
	}
	if h, _, err := net.SplitHostPort(t.Host); err == nil {
		return h
	}
	return t.Host
}

var idRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Problem is a validation failure of one field of a target.
type Problem struct {
	Field string
	Msg   string
}

// Validate checks the fields that do not depend on the schedule parser.
func (t *Target) Validate() []Problem {
	var ps []Problem
	add := func(f, format string, a ...any) { ps = append(ps, Problem{f, fmt.Sprintf(format, a...)}) }
	switch {
	case t.ID == "":
		add("id", "a target needs an id")
	case !idRE.MatchString(t.ID):
		add("id", "id %q must be lower-case letters, digits and dashes (a slug)", t.ID)
	}
	if t.Sector == "" {
		add("sector", "a target needs a sector (energy, finance, government, ...)")
	}
	if t.RTO < 0 {
		add("rto", "rto %s is negative", time.Duration(t.RTO))
	}
	if t.Criticality < 0 || t.Criticality > 3 {
		add("criticality", "criticality %d is not between 1 and 3", t.Criticality)
	}
	if t.URL == "" && t.Host == "" {
		add("url", "a target needs a url or a host")
	} else if t.URL != "" {
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("url", "url %q is not an absolute http or https URL", t.URL)
		}
	}
	for _, c := range t.Checks {
		k, ok := lookupKind(c)
		if !ok || !k.listed {
			add("checks", "unknown check %q (known: %s)", c, strings.Join(CheckKinds(), ", "))
			continue
		}
		if k.needs == nil {
			continue
		}
		if field, msg := k.needs(t); msg != "" {
			add(field, "%s", msg)
		}
	}
	for _, re := range []struct{ field, expr string }{{"http", t.HTTP.BodyRegex}, {"dns", t.DNS.AnswerRegex}} {
		if _, err := regexp.Compile(re.expr); err != nil {
			add(re.field, "invalid regular expression %q: %v", re.expr, err)
		}
	}
	for _, st := range t.TCP.Steps {
		if _, err := regexp.Compile(st.Expect); err != nil {
			add("tcp", "invalid regular expression %q: %v", st.Expect, err)
		}
		if (st.Send == "") == (st.Expect == "") {
			add("tcp", "each step needs exactly one of send and expect")
		}
	}
	if p := t.HTTP.IPProtocol; p != "" && p != "ip4" && p != "ip6" {
		add("http", "ip_protocol %q must be ip4 or ip6", p)
	}
	if t.Timeout < 0 {
		add("timeout", "timeout must be positive")
	}
	for k := range t.Labels {
		if !labelRE.MatchString(k) {
			add("labels", "label name %q is not a valid Prometheus label name", k)
		} else if Reserved(k) {
			add("labels", "label %q is set by Bulwark and cannot be given", k)
		}
	}
	for _, c := range t.HTTP.ValidStatusCodes {
		if c < 100 || c > 599 {
			add("http", "status code %d is not between 100 and 599", c)
		}
	}
	return ps
}
