package step

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Notify tells a receiver of the alerting configuration (a Slack channel,
// a webhook, e-mail): text is a template.
type Notify struct {
	Receiver string `yaml:"receiver"`
	Text     string `yaml:"text"`
}

func (n *Notify) Validate(env *Env, at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	if !env.Receivers[n.Receiver] {
		ps = append(ps, configfile.At(at.Add("receiver"), "no alerting receiver named %q", n.Receiver))
	}
	if n.Text == "" {
		ps = append(ps, configfile.At(at.Add("text"), "a notification needs a text"))
	}
	return append(ps, checkTemplate(n.Text, at.Add("text"))...)
}

// HTTP calls an API, e.g. a DNS provider's failover endpoint: url, headers
// and body are templates; the answer must have one of the expected codes.
type HTTP struct {
	Method  string            `yaml:"method"` // default POST
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	// HeaderFiles are headers whose values (a token) are secret files;
	// a relative path is the playbook file's folder's.
	HeaderFiles  map[string]string `yaml:"header_files"`
	Body         string            `yaml:"body"`
	ExpectStatus []int             `yaml:"expect_status"` // default any 2xx
}

func (h *HTTP) Validate(env *Env, at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	if h.Method != "" && !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, h.Method) {
		ps = append(ps, configfile.At(at.Add("method"), "method %q: want GET, POST, PUT, PATCH or DELETE", h.Method))
	}
	if !strings.Contains(h.URL, "{{") {
		if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps = append(ps, configfile.At(at.Add("url"), "%q is not an http or https URL", h.URL))
		}
	}
	for _, c := range h.ExpectStatus {
		if c < 100 || c > 599 {
			ps = append(ps, configfile.At(at.Add("expect_status"), "%d is not an HTTP status", c))
		}
	}
	ps = append(ps, checkTemplate(h.URL, at.Add("url"))...)
	ps = append(ps, checkTemplate(h.Body, at.Add("body"))...)
	for k, v := range h.Headers {
		ps = append(ps, checkTemplate(v, at.Add("headers", k))...)
	}
	return append(ps, h.checkHeaderFiles(env, at)...)
}

// checkHeaderFiles makes each relative secret file the playbook folder's
// (in place: the step reads the path checked) and reads each, when the
// env can: a missing token is found by `bulwark check`, not by the run.
func (h *HTTP) checkHeaderFiles(env *Env, at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	for _, k := range slices.Sorted(maps.Keys(h.HeaderFiles)) {
		f := h.HeaderFiles[k]
		kat := at.Add("header_files", k)
		switch {
		case f == "":
			ps = append(ps, configfile.At(kat, "names no file"))
			continue
		case !filepath.IsAbs(f) && env.Dir == "":
			ps = append(ps, configfile.At(kat, "%q must be an absolute path here", f))
			continue
		case !filepath.IsAbs(f):
			f = filepath.Join(env.Dir, f)
			h.HeaderFiles[k] = f
		}
		if env.ReadSecret != nil {
			if _, err := env.ReadSecret(f); err != nil {
				ps = append(ps, configfile.At(kat, "header %s: %v", k, err))
			}
		}
	}
	return ps
}

// Exec runs a command the collector's configuration allows, with its
// arguments as a list (templates each), never through a shell.
type Exec struct {
	Command string   `yaml:"command"`
	Args    []string `yaml:"args"`
}

func (e *Exec) Validate(env *Env, at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	if err := CheckCommandPath(e.Command); err != nil {
		ps = append(ps, configfile.At(at.Add("command"), "%v", err))
	} else if !slices.Contains(env.ExecAllow, e.Command) {
		ps = append(ps, configfile.At(at.Add("command"), "command %q is not in playbooks.exec_allow", e.Command))
	}
	for i, a := range e.Args {
		ps = append(ps, checkTemplate(a, at.Add("args", i))...)
	}
	return ps
}

// CheckCommandPath accepts only an absolute, cleaned path: a bare name
// would run whatever comes first on the collector's $PATH, a relative one
// whatever lies under its working directory, and /usr/../x is not what
// it reads as.
func CheckCommandPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("command %q must be an absolute, clean path (like %s)", p, cleanAbsExample(p))
	}
	return nil
}

func cleanAbsExample(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return "/usr/local/bin/" + filepath.Base(p)
}

// WaitFor waits until a PromQL condition returns at least one series (e.g.
// the service answers again from every vantage), or its timeout.
type WaitFor struct {
	Query string              `yaml:"query"`
	Every configfile.Duration `yaml:"every"` // default 15s
}

func (w *WaitFor) Validate(_ *Env, at configfile.Path) []configfile.Problem {
	if w.Every != 0 && w.Every < configfile.Duration(time.Second) {
		return []configfile.Problem{configfile.At(at.Add("every"), "must be at least 1s")}
	}
	if strings.Contains(w.Query, "{{") {
		return checkTemplate(w.Query, at.Add("query"))
	}
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(w.Query); err != nil {
		return []configfile.Problem{configfile.At(at.Add("query"), "PromQL: %v", err)}
	}
	return nil
}

// Approval waits until a user with the role approves (CLI, API or Slack).
type Approval struct {
	Role   string `yaml:"role"`
	Prompt string `yaml:"prompt"`
	// Receiver, when set, is asked: a Slack receiver with a bot token and
	// a signing secret shows an Approve button.
	Receiver string `yaml:"receiver"`
}

func (a *Approval) Validate(env *Env, at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	if !env.Roles[a.Role] {
		ps = append(ps, configfile.At(at.Add("role"), "no role %q (viewer, operator or admin)", a.Role))
	}
	if a.Receiver != "" && !env.Receivers[a.Receiver] {
		ps = append(ps, configfile.At(at.Add("receiver"), "no alerting receiver named %q", a.Receiver))
	}
	return append(ps, checkTemplate(a.Prompt, at.Add("prompt"))...)
}

// Checklist is manual work, each item ticked off with who and when.
type Checklist struct {
	Items []string `yaml:"items"`
}

func (c *Checklist) Validate(_ *Env, at configfile.Path) []configfile.Problem {
	if len(c.Items) == 0 {
		return []configfile.Problem{configfile.At(at.Add("items"), "a checklist needs at least one item")}
	}
	var ps []configfile.Problem
	for i, it := range c.Items {
		ps = append(ps, checkTemplate(it, at.Add("items", i))...)
	}
	return ps
}
