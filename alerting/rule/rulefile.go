package rule

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/bulwarkhq/bulwark/alerting"
)

// The rule-file shapes written out (Prometheus's rule-file format).
type fileGroups struct {
	Groups []fileGroup `yaml:"groups"`
}

type fileGroup struct {
	Name     string     `yaml:"name"`
	Interval string     `yaml:"interval,omitempty"`
	Rules    []fileRule `yaml:"rules"`
}

type fileRule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	KeepFiring  string            `yaml:"keep_firing_for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// availabilitySelector selects the checks whose success is a service's availability.
var availabilitySelector = fmt.Sprintf(`check=~%q`, strings.Join(availabilityChecks, "|"))

// File returns the built-in rules as a Prometheus rule file, evaluated
// every interval. They read the agents' series and the series the rule
// manager writes (AvailabilityMetric, bulwark_target_interval_seconds,
// bulwark_target_latency_objective_seconds, bulwark_target_cert_warning_days,
// bulwark_agent_last_push_timestamp_seconds).
func (b Builtin) File(interval time.Duration) ([]byte, error) {
	b = b.WithDefaults()
	downFor := ""
	if *b.DownFor > 0 {
		downFor = promDuration(time.Duration(*b.DownFor))
	}
	// The collector's own series carry no agent label (but the one of
	// down-on-one-vantage, which names its agent): agent="" reads only
	// them, never a copy an agent pushed (ingest refuses those too).
	class := func(c string) string {
		if c == "down-on-one-vantage" {
			return fmt.Sprintf(`%s{classification=%q}`, AvailabilityMetric, c)
		}
		return fmt.Sprintf(`%s{classification=%q,agent=""}`, AvailabilityMetric, c)
	}
	rules := []fileRule{
		// The vantage quorum is tallied in Go before each evaluation
		// (availability.go): one series per target, not a dozen joins.
		availability("ServiceDownEverywhere", "down-everywhere", "page", downFor, class("down-everywhere"),
			"{{ $labels.target }} is down from every vantage point reporting ("+agree("agent", "agents")+").",
			"{{ $labels.target }} is up again: it answers from a vantage point."),
		availability("ServiceDownFromAbroadOnly", "down-from-abroad-only", "page", downFor, class("down-from-abroad-only"),
			"{{ $labels.target }} answers at home but not from abroad ("+agree("agent abroad", "agents abroad")+"): a cut of international paths, or geo-blocking.",
			"{{ $labels.target }} is up again from abroad."),
		availability("ServiceDownFromHomeOnly", "down-from-home-only", "page", downFor, class("down-from-home-only"),
			"{{ $labels.target }} answers from abroad but not at home ("+agree("home agent", "home agents")+"): a domestic network or DNS problem.",
			"{{ $labels.target }} is up again at home."),
		availability("ServiceDownOnOneVantage", "down-on-one-vantage", "ticket", downFor, class("down-on-one-vantage"),
			"Only agent {{ $labels.agent }} ({{ $labels.vantage }}) sees {{ $labels.target }} down while its peers see it up: look at that probe host first.",
			"Agent {{ $labels.agent }} ({{ $labels.vantage }}) no longer sees {{ $labels.target }} down."),
		{Alert: "AgentSilent", Expr: fmt.Sprintf(`time() - bulwark_agent_last_push_timestamp_seconds > %d`, int64(time.Duration(b.VoteWindow)/time.Second)),
			Labels: map[string]string{"severity": "warning", "classification": "agent-silent"},
			Annotations: map[string]string{"summary": "Agent {{ $labels.agent }} ({{ $labels.vantage }}) has pushed nothing for {{ $value | humanizeDuration }}: its vantage point is blind, and its votes no longer count.",
				resolved: "Agent {{ $labels.agent }} ({{ $labels.vantage }}) pushes again."}},
		{Alert: "TargetNoData", Expr: class("no-data"),
			For:    promDuration(interval),
			Labels: map[string]string{"severity": "warning", "classification": "no-data"},
			Annotations: map[string]string{"summary": "No agent has reported {{ $labels.target }} for two of its intervals.",
				resolved: "Agents report {{ $labels.target }} again."}},
		{Alert: "LatencyAboveObjective", Expr: fmt.Sprintf(`max by (target, sector, vantage) (probe_duration_seconds{drill="",%s}) > on (target) group_left () bulwark_target_latency_objective_seconds{agent=""}`, availabilitySelector),
			For:    promDuration(time.Duration(b.LatencyFor)),
			Labels: map[string]string{"severity": "ticket", "classification": "slow"},
			Annotations: map[string]string{"summary": "{{ $labels.target }} takes {{ $value | humanizeDuration }} from {{ $labels.vantage }}, above its objective.",
				resolved: "{{ $labels.target }} answers within its objective from {{ $labels.vantage }} again."}},
		{Alert: "CertificateExpiring", Expr: `(min by (target, sector) (probe_ssl_earliest_cert_expiry{drill=""}) - time()) / 86400 < on (target) group_left () bulwark_target_cert_warning_days{agent=""}`,
			Labels: map[string]string{"severity": "warning", "classification": "certificate-expiring"},
			Annotations: map[string]string{"summary": "The certificate of {{ $labels.target }} expires in {{ $value | printf \"%.1f\" }} days.",
				resolved: "The certificate of {{ $labels.target }} no longer expires soon."}},
		{Alert: "DNSSECSignaturesExpiring", Expr: fmt.Sprintf(`(min by (target, sector) (probe_dns_rrsig_expiry_timestamp_seconds{drill=""}) - time()) / 86400 < %d`, b.DNSSECDays),
			Labels: map[string]string{"severity": "warning", "classification": "dnssec-expiring"},
			Annotations: map[string]string{"summary": "The DNSSEC signatures of {{ $labels.target }} expire in {{ $value | printf \"%.1f\" }} days.",
				resolved: "The DNSSEC signatures of {{ $labels.target }} no longer expire soon."}},
		{Alert: "ForeignCriticalLayerNew", Expr: foreignCriticalNewExpr,
			For:    promDuration(time.Duration(b.ForeignCriticalFor)),
			Labels: map[string]string{"severity": "warning", "classification": "foreign-critical"},
			Annotations: map[string]string{"summary": "The {{ $labels.layer }} layer of {{ $labels.target }} now depends entirely on one foreign provider.",
				resolved: "The {{ $labels.layer }} layer of {{ $labels.target }} is no longer a new foreign-critical dependency."}},
		{Alert: "DependencyDrift", Expr: driftExpr(time.Duration(b.DriftFor)),
			For: promDuration(time.Duration(b.DriftFor)), KeepFiring: "24h", // an event: shown for a day
			Labels: map[string]string{"severity": "warning", "classification": "drift"},
			Annotations: map[string]string{"summary": "The {{ $labels.layer }} layer of {{ $labels.target }} now depends on {{ $labels.provider }} ({{ $labels.jurisdiction }}), not seen there before.",
				resolved: "The move of the {{ $labels.layer }} layer of {{ $labels.target }} to {{ $labels.provider }} is no longer new."}},
	}
	var avail, kept []fileRule
	for _, r := range rules {
		switch {
		case r.Alert != "" && slices.Contains(b.Disabled, r.Alert):
		case strings.HasPrefix(r.Alert, "ServiceDown"):
			avail = append(avail, r)
		default:
			kept = append(kept, r)
		}
	}
	groups := []fileGroup{{Name: BuiltinGroup, Interval: promDuration(interval), Rules: kept}}
	if len(avail) > 0 {
		groups = append(groups, fileGroup{Name: AvailabilityGroup, Interval: promDuration(min(interval, AvailabilityInterval)), Rules: avail})
	}
	out, err := yaml.Marshal(fileGroups{Groups: groups})
	if err != nil {
		return nil, fmt.Errorf("builtin rules: %w", err)
	}
	return append([]byte("# Bulwark's built-in rules, generated from the alerting configuration: do not edit.\n"), out...), nil
}

func availability(name, class, severity, forDur, expr, summary, recovered string) fileRule {
	return fileRule{Alert: name, Expr: expr, For: forDur,
		Labels:      map[string]string{"severity": severity, "classification": class},
		Annotations: map[string]string{"summary": summary, resolved: recovered}}
}

// resolved is the annotation read once an alert has resolved.
const resolved = alerting.ResolvedAnnotation

// agree is "1 agent agrees" or "N agents agree" for the alert's value.
func agree(one, many string) string {
	return "{{ if eq $value 1.0 }}1 " + one + " agrees{{ else }}{{ $value }} " + many + " agree{{ end }}"
}

// foreignCriticalNewExpr: a layer foreign-critical now that was seen in
// another attributed state within the day. The first sight of a layer is
// its baseline, not news: on a fresh install nothing is "new" (the
// sovereignty report and console show what is there); only a change after
// it is. A layer not observed for a while (a failing probe) has no state
// and does not count as a change. After a day the change is no longer new.
const foreignCriticalNewExpr = `bulwark_layer_state{state="foreign-critical",agent=""} and on (target, layer) ` +
	`count by (target, layer) (count_over_time(bulwark_layer_state{state!~"foreign-critical|unattributed",agent=""}[1d]))`

// driftExpr: a provider and jurisdiction present in a layer now that was
// not there in the six hours before 2×d ago, in a layer that had
// dependencies then (a service seen for the first time drifts from
// nothing). Held for d, it fires; after 2×d it is no longer new.
func driftExpr(d time.Duration) string {
	ago := promDuration(2 * d)
	by := "target, sector, layer, provider, jurisdiction"
	return fmt.Sprintf(`(count by (%s) (bulwark_dependency_info{agent=""}) unless on (%s) count by (%s) (max_over_time(bulwark_dependency_info{agent=""}[6h] offset %s))) and on (target, layer) count by (target, layer) (max_over_time(bulwark_dependency_info{agent=""}[6h] offset %s))`,
		by, by, by, ago, ago)
}

// promDuration writes d as PromQL accepts it (whole seconds at least).
func promDuration(d time.Duration) string {
	if d < time.Second {
		d = time.Second
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}
