package alerting

import (
	"fmt"
	"regexp"

	"github.com/prometheus/prometheus/model/labels"
)

// InhibitRule mutes target alerts while a source alert fires with the
// same values of the Equal labels (Alertmanager's inhibit_rules): a
// service down everywhere is not also reported slow; a silent agent's
// lone "down" votes are not reported as probe-host trouble.
type InhibitRule struct {
	SourceMatch   map[string]string `yaml:"source_match"`
	SourceMatchRE map[string]string `yaml:"source_match_re"`
	TargetMatch   map[string]string `yaml:"target_match"`
	TargetMatchRE map[string]string `yaml:"target_match_re"`
	Equal         []string          `yaml:"equal"`

	sourceRE, targetRE map[string]*regexp.Regexp
}

// DefaultInhibitRules apply when the configuration names none.
func DefaultInhibitRules() []InhibitRule {
	return []InhibitRule{
		{SourceMatchRE: map[string]string{"alertname": "ServiceDown(Everywhere|FromAbroadOnly|FromHomeOnly)"},
			TargetMatch: map[string]string{"alertname": "LatencyAboveObjective"}, Equal: []string{"target"}},
		{SourceMatch: map[string]string{"alertname": "AgentSilent"},
			TargetMatch: map[string]string{"alertname": "ServiceDownOnOneVantage"}, Equal: []string{"agent"}},
	}
}

// Prepare compiles the rule's regexps.
func (r *InhibitRule) Prepare() error {
	if len(r.SourceMatch)+len(r.SourceMatchRE) == 0 || len(r.TargetMatch)+len(r.TargetMatchRE) == 0 {
		return fmt.Errorf("inhibit rule needs source and target matchers")
	}
	var err error
	if r.sourceRE, err = compileRE(r.SourceMatchRE); err != nil {
		return fmt.Errorf("inhibit source_match_re %w", err)
	}
	if r.targetRE, err = compileRE(r.TargetMatchRE); err != nil {
		return fmt.Errorf("inhibit target_match_re %w", err)
	}
	return nil
}

// inhibited reports whether a is muted by a firing alert of sources under
// one of rules (an alert never inhibits itself).
func inhibited(a *Alert, sources []*Alert, rules []InhibitRule) bool {
	for i := range rules {
		r := &rules[i]
		if !matches(a.Labels, r.TargetMatch, r.targetRE) {
			continue
		}
		for _, s := range sources {
			if s.Resolved() || s.Fingerprint() == a.Fingerprint() || !matches(s.Labels, r.SourceMatch, r.sourceRE) {
				continue
			}
			if equalOn(a.Labels, s.Labels, r.Equal) {
				return true
			}
		}
	}
	return false
}

func equalOn(a, b labels.Labels, names []string) bool {
	for _, n := range names {
		if a.Get(n) != b.Get(n) {
			return false
		}
	}
	return true
}
