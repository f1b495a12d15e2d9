// Package target is the model of a monitored service, shared by the agent
// (which probes it) and the collector (which serves and stores it).
package target

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Target is one monitored service and how to probe it.
type Target struct {
	ID          string            `yaml:"id" json:"id"`
	Name        string            `yaml:"name,omitempty" json:"name,omitempty"`
	Sector      string            `yaml:"sector" json:"sector"`
	Operator    string            `yaml:"operator,omitempty" json:"operator,omitempty"`
	Criticality int               `yaml:"criticality,omitempty" json:"criticality,omitempty"`
	URL         string            `yaml:"url" json:"url"`
	Schedule    string            `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Timeout     Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	HTTP        HTTP              `yaml:"http,omitempty" json:"http,omitzero"`
}

// HTTP holds the options of the HTTP probe.
type HTTP struct {
	Method           string            `yaml:"method,omitempty" json:"method,omitempty"`
	Headers          map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	ValidStatusCodes []int             `yaml:"valid_status_codes,omitempty" json:"valid_status_codes,omitempty"`
	NoFollowRedirect bool              `yaml:"no_follow_redirects,omitempty" json:"no_follow_redirects,omitempty"`
}

// Duration is a time.Duration written as "10s" in YAML and JSON.
type Duration time.Duration

// UnmarshalText parses a duration such as "1m30s", "500ms" or "15d".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		m, merr := model.ParseDuration(string(b))
		if merr != nil {
			return fmt.Errorf("invalid duration %q", b)
		}
		v = time.Duration(m)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML parses a duration and reports a bad one with its line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.UnmarshalText([]byte(n.Value)); err != nil || n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration %q", n.Line, n.Value)}}
	}
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

var idRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)
var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Reserved labels are set by Bulwark itself and cannot be given per target.
var Reserved = map[string]bool{"target": true, "sector": true, "check": true, "agent": true, "vantage": true, "__name__": true, "phase": true}

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
	if t.Criticality < 0 || t.Criticality > 3 {
		add("criticality", "criticality %d is not between 1 and 3", t.Criticality)
	}
	if t.URL == "" {
		add("url", "a target needs a url")
	} else if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", "url %q is not an absolute http or https URL", t.URL)
	}
	if t.Timeout < 0 {
		add("timeout", "timeout must be positive")
	}
	for k := range t.Labels {
		if !labelRE.MatchString(k) {
			add("labels", "label name %q is not a valid Prometheus label name", k)
		} else if Reserved[k] {
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
