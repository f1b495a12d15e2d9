package agentconfig

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Endpoint is one collector of collector.urls: written as a URL, or as a
// mapping with its own name and token file.
type Endpoint struct {
	// URL is the collector's base URL; samples go to URL/api/v1/write.
	URL string `yaml:"url"`
	// Name names the collector's queue cursor and its metrics'
	// collector label (default: the URL's host and path, as
	// "collector-a.example:9400"). Keep it when a collector moves to a new
	// URL and its cursor goes with it; a new name is a new collector.
	Name string `yaml:"name"`
	// TokenFile holds this collector's bearer token (default: the shared
	// collector.token_file or token_env).
	TokenFile string `yaml:"token_file"`
}

// UnmarshalYAML takes a plain URL string or a mapping.
func (e *Endpoint) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		*e = Endpoint{URL: s}
		return nil
	}
	type plain Endpoint
	return unmarshal((*plain)(e))
}

// maxName is the longest collector name (the queue's bound on a cursor's).
const maxName = 80

// Endpoints returns the collectors samples go to: collector.urls, or
// collector.url as a one-element list; each with its name.
func (c *Collector) Endpoints() []Endpoint {
	var out []Endpoint
	if len(c.URLs) > 0 {
		out = append(out, c.URLs...)
	} else if c.URL != "" {
		out = append(out, Endpoint{URL: c.URL})
	}
	for i := range out {
		if out[i].Name == "" {
			out[i].Name = EndpointName(out[i].URL)
		}
	}
	return out
}

// EndpointName is the default name of a collector: its URL's host (with
// the port) and path, without userinfo, scheme or trailing slash.
func EndpointName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.TrimRight(raw, "/")
	}
	return strings.ToLower(u.Host) + strings.TrimRight(u.Path, "/")
}

// validateURLs checks collector.urls.
func (c *Collector) validateURLs(p func(configfile.Path, string, ...any)) {
	if len(c.URLs) == 0 {
		return
	}
	if c.URL != "" {
		p(configfile.Path{"collector", "urls"}, "set url or urls, not both (url is urls with one element)")
	}
	seen := map[string]int{}
	for i, e := range c.Endpoints() {
		at := configfile.Path{"collector", "urls", i}
		if !httpURL(e.URL) {
			p(at, "%q is not an http or https URL", e.URL)
			continue
		}
		if len(e.Name) > maxName {
			p(at.Add("name"), "name %q is longer than %d bytes", e.Name, maxName)
		}
		if j, dup := seen[e.Name]; dup {
			p(at, "%s names a second collector %q (first at urls[%d]): give each a distinct name", e.URL, e.Name, j)
		}
		seen[e.Name] = i
	}
}

// Token reads the collector's bearer token: its own token file, else
// shared (the token of collector.token_file or token_env).
func (e *Endpoint) Token(shared string) (string, error) {
	if e.TokenFile == "" {
		return shared, nil
	}
	tok, err := configfile.Secret(e.TokenFile, "")
	if err != nil {
		return "", fmt.Errorf("collector %s token: %w", e.Name, err)
	}
	return tok, nil
}

// httpURL reports whether raw is an absolute http or https URL.
func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
