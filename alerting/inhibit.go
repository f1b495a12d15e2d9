package alerting

import (
	"fmt"

	"github.com/prometheus/prometheus/model/labels"
)

// InhibitRule mutes target alerts while a source alert fires with the
// same values of the Equal labels (Alertmanager's inhibit_rules): a
// service down everywhere is not also reported slow; a silent agent's
// lone "down" votes are not reported as probe-host trouble. Source and
// target are chosen by matchers in Alertmanager's syntax
// (source_matchers, target_matchers), or by the older maps.
type InhibitRule struct {
	SourceMatchers Matchers          `yaml:"source_matchers"`
	SourceMatch    map[string]string `yaml:"source_match"`
	SourceMatchRE  map[string]string `yaml:"source_match_re"`
	TargetMatchers Matchers          `yaml:"target_matchers"`
	TargetMatch    map[string]string `yaml:"target_match"`
	TargetMatchRE  map[string]string `yaml:"target_match_re"`
	Equal          []string          `yaml:"equal"`

	source, target Matchers // each form together, once prepared
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

// Prepare compiles the rule's matchers.
func (r *InhibitRule) Prepare() error {
	if len(r.SourceMatch)+len(r.SourceMatchRE)+len(r.SourceMatchers) == 0 || len(r.TargetMatch)+len(r.TargetMatchRE)+len(r.TargetMatchers) == 0 {
		return fmt.Errorf("inhibit rule needs source and target matchers")
	}
	var err error
	if r.source, err = combineMatchers(r.SourceMatch, r.SourceMatchRE, r.SourceMatchers); err != nil {
		return fmt.Errorf("inhibit source_match_re %w", err)
	}
	if r.target, err = combineMatchers(r.TargetMatch, r.TargetMatchRE, r.TargetMatchers); err != nil {
		return fmt.Errorf("inhibit target_match_re %w", err)
	}
	return nil
}

// inhibited reports whether a is muted by a firing alert of sources under
// one of rules (an alert never inhibits itself).
func inhibited(a *Alert, sources []*Alert, rules []InhibitRule) bool {
	for i := range rules {
		r := &rules[i]
		if !r.target.Matches(a.Labels) {
			continue
		}
		for _, s := range sources {
			if s.Resolved() || s.Fingerprint() == a.Fingerprint() || !r.source.Matches(s.Labels) {
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
