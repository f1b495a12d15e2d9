package collectorconfig

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Alerting configures rule evaluation.
type Alerting struct {
	// EvaluationInterval is how often rules run (default 15s).
	EvaluationInterval configfile.Duration `yaml:"evaluation_interval"`
	// RuleFiles are Prometheus rule files (globs allowed).
	RuleFiles []string `yaml:"rule_files"`
	// Builtin tunes or turns off the built-in rules.
	Builtin rule.Builtin `yaml:"builtin"`
	// DefaultProbeInterval is the interval assumed for targets that set no
	// schedule, for the no-data rule (default 30s, the agent's default).
	DefaultProbeInterval configfile.Duration `yaml:"default_probe_interval"`
	// Alertmanagers receive every alert through their v2 API, as from
	// Prometheus.
	Alertmanagers []Alertmanager `yaml:"alertmanagers"`
	// Receivers are where notifications go; Routes say which alerts go
	// where, grouped how: a tree, as in Alertmanager.
	Receivers []Receiver       `yaml:"receivers"`
	Routes    []alerting.Route `yaml:"routes"`
	// DrillRoute takes the alerts raised by drills' series (they carry
	// the drill label; grouped by drill, alertname and classification
	// unless it says otherwise); the production routes and Alertmanagers
	// never see them. Absent: drill alerts are only shown and reported.
	DrillRoute *alerting.Route `yaml:"drill_route"`
	// InhibitRules mute alerts implied by others; absent: Bulwark's
	// defaults (down inhibits slow; a silent agent inhibits its lone votes).
	InhibitRules []alerting.InhibitRule `yaml:"inhibit_rules"`
	// ConsoleURL is linked from notifications (optional).
	ConsoleURL string `yaml:"console_url"`
	// Heartbeat is the dead-man's switch: a POST to an external receiver
	// every interval while rules evaluate, so the collector's own silence
	// is noticed.
	Heartbeat *Heartbeat `yaml:"heartbeat"`
	// SlackUsers maps Slack user ids to Bulwark users, for the Acknowledge
	// and Approve buttons: each must name a configured user (who must hold
	// the role the button's action needs).
	SlackUsers map[string]string `yaml:"slack_users"`
}

// Receiver is one named destination of notifications: exactly one kind.
// Discard is the receiver that tells nobody (Alertmanager's receiver with
// no configuration): the catch-all of a tree whose other alerts are
// deliberately not notified.
type Receiver struct {
	Name    string           `yaml:"name"`
	Slack   *SlackReceiver   `yaml:"slack"`
	Webhook *WebhookReceiver `yaml:"webhook"`
	Email   *EmailReceiver   `yaml:"email"`
	Discard bool             `yaml:"discard"`
}

// SlackReceiver posts with a bot token (chat.postMessage).
type SlackReceiver struct {
	TokenFile string `yaml:"token_file"`
	TokenEnv  string `yaml:"token_env"`
	Channel   string `yaml:"channel"`
	// WebhookURLFile holds an incoming webhook URL, instead of a token and
	// a channel (no threads, no edits, no Acknowledge button).
	WebhookURLFile string `yaml:"webhook_url_file"`
	// APIURL overrides Slack's Web API base (a proxy, or tests).
	APIURL string `yaml:"api_url"`
	// SigningSecretFile holds the Slack app's signing secret: with it,
	// incidents get an Acknowledge button.
	SigningSecretFile string `yaml:"signing_secret_file"`
}

// WebhookReceiver posts signed JSON. The URL, which often holds a
// secret, may come from a file.
type WebhookReceiver struct {
	URL        string `yaml:"url"`
	URLFile    string `yaml:"url_file"`
	SecretFile string `yaml:"secret_file"`
}

// EmailReceiver sends mail through a smarthost, with STARTTLS required
// unless allow_plaintext says otherwise.
type EmailReceiver struct {
	// Smarthost is host:port of the SMTP server (submission, 587).
	Smarthost string   `yaml:"smarthost"`
	From      string   `yaml:"from"`
	To        []string `yaml:"to"`
	Hello     string   `yaml:"hello"`
	// Username and PasswordFile authenticate (AUTH PLAIN, only over TLS).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	// CAFile verifies the server's certificate (default: the system's roots).
	CAFile         string `yaml:"ca_file"`
	AllowPlaintext bool   `yaml:"allow_plaintext"`
}

// Heartbeat is where and how often the collector says it is alive.
type Heartbeat struct {
	URL      string              `yaml:"url"`
	URLFile  string              `yaml:"url_file"`
	Interval configfile.Duration `yaml:"interval"` // default 1m
}

// Alertmanager is one Alertmanager alerts are forwarded to.
type Alertmanager struct {
	URL       string `yaml:"url"`
	TokenFile string `yaml:"token_file"`
}

// Validate reports the problems of the alerting section, found at at.
func (a *Alerting) Validate(at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	p := func(path configfile.Path, f string, args ...any) { ps = append(ps, configfile.At(path, f, args...)) }
	if a.EvaluationInterval < configfile.Duration(time.Second) || a.DefaultProbeInterval < configfile.Duration(time.Second) {
		p(at, "evaluation_interval and default_probe_interval must be at least 1s")
	}
	for i, am := range a.Alertmanagers {
		if u, err := url.Parse(am.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p(at.Add("alertmanagers", i, "url"), "%q is not an http or https URL", am.URL)
		}
	}
	names := map[string]bool{}
	for i, r := range a.Receivers {
		if r.Name == "" || names[r.Name] {
			p(at.Add("receivers", i, "name"), "receiver name %q is empty or used twice", r.Name)
		}
		names[r.Name] = true
		if r.Kind() == "" {
			p(at.Add("receivers", i), "receiver %q needs exactly one of %s", r.Name, strings.Join(ReceiverKinds(), ", "))
		}
		for _, k := range receiverKinds {
			if k.check == nil || !k.set(&r) {
				continue
			}
			for _, msg := range k.check(&r) {
				p(at.Add("receivers", i, k.name), "%s", msg)
			}
		}
	}
	if a.DrillRoute != nil && a.DrillRoute.HasMatchers() {
		p(at.Add("drill_route"), "the drill route takes every drill alert: put matchers on its child routes")
	} else if a.DrillRoute != nil {
		if _, err := alerting.PrepareRoutes([]alerting.Route{*a.DrillRoute}, func(n string) bool { return names[n] }); err != nil {
			p(at.Add("drill_route"), "%v", err)
		}
	}
	if hb := a.Heartbeat; hb != nil && setCount(hb.URL, hb.URLFile) != 1 {
		p(at.Add("heartbeat"), "needs one of url, url_file")
	}
	for i := range a.InhibitRules {
		ir := a.InhibitRules[i]
		if err := ir.Prepare(); err != nil {
			p(at.Add("inhibit_rules", i), "%v", err)
		}
	}
	if _, err := alerting.PrepareRoutes(a.Routes, func(n string) bool { return names[n] }); err != nil {
		p(at.Add("routes"), "%v", err)
	} else if err := alerting.CheckCatchAll(a.Routes); err != nil {
		p(at.Add("routes"), "%v", err)
	}
	if err := a.Builtin.Validate(); err != nil {
		p(at.Add("builtin"), "%v", err)
	}
	return ps
}

// validateSlackUsers reports the slack_users entries that name no
// configured user: a click would be refused at the worst moment, and a
// user added later under that id would gain Slack's say unnoticed.
func (a *Alerting) validateSlackUsers(users []User, at configfile.Path) []configfile.Problem {
	known := map[string]bool{}
	for _, u := range users {
		known[u.ID] = true
	}
	var ps []configfile.Problem
	for _, slackID := range slices.Sorted(maps.Keys(a.SlackUsers)) {
		if id := a.SlackUsers[slackID]; !known[id] {
			ps = append(ps, configfile.At(at.Add("slack_users", slackID), "Slack user %s is mapped to %q, which is no configured user", slackID, id))
		}
	}
	return ps
}
