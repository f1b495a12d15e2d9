package alerting

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

// Matchers are label conditions that must all hold, in Alertmanager's
// syntax: name=value, name!=value, name=~regexp, name!~regexp, alone or as
// a list such as {sector="energy", severity!~"info|debug"}. Regexps are
// anchored at both ends, as in Alertmanager and PromQL; a missing label
// reads as the empty value. The parser is Alertmanager's own (pkg/labels).
//
// In YAML and JSON they are a list of strings, each holding one or more
// matchers (`matchers: ['sector="energy"', 'severity!~"info|debug"']`), or
// one such string.
type Matchers []*amlabels.Matcher

// ParseMatchers reads one string of matchers, with or without braces.
func ParseMatchers(s string) (Matchers, error) {
	if strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")) == "" {
		return nil, fmt.Errorf("matcher %q: empty", s)
	}
	ms, err := amlabels.ParseMatchers(s)
	if err != nil {
		return nil, fmt.Errorf("matcher %q: %w", s, err)
	}
	return Matchers(ms), nil
}

// parseMatcherList reads a list of matcher strings, sorted as Alertmanager
// sorts a route's matchers.
func parseMatcherList(lines []string) (Matchers, error) {
	var out Matchers
	for _, l := range lines {
		ms, err := ParseMatchers(l)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	sort.Sort(amlabels.Matchers(out))
	return out, nil
}

// Matches reports whether ls satisfies every matcher (none: any ls does).
func (ms Matchers) Matches(ls labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// String writes the matchers as {a="b",c!~"d"}: the form ParseMatchers reads.
func (ms Matchers) String() string { return amlabels.Matchers(ms).String() }

// UnmarshalYAML reads a list of matcher strings, or one string; an error
// names its line.
func (ms *Matchers) UnmarshalYAML(n *yaml.Node) error {
	var lines []string
	var err error
	switch n.Kind {
	case yaml.ScalarNode:
		lines = []string{n.Value}
	case yaml.SequenceNode:
		if err := n.Decode(&lines); err != nil {
			return err
		}
	default:
		err = errors.New("want a list of matcher strings")
	}
	if err == nil {
		*ms, err = parseMatcherList(lines)
	}
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	return nil
}

// MarshalJSON writes a list of matcher strings.
func (ms Matchers) MarshalJSON() ([]byte, error) {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a list of matcher strings, or one string.
func (ms *Matchers) UnmarshalJSON(b []byte) error {
	var lines []string
	if err := json.Unmarshal(b, &lines); err != nil {
		var one string
		if json.Unmarshal(b, &one) != nil {
			return err
		}
		lines = []string{one}
	}
	out, err := parseMatcherList(lines)
	if err != nil {
		return err
	}
	*ms = out
	return nil
}

// combineMatchers joins the old match (label = value) and match_re (label
// =~ regexp) maps with matchers in the new syntax, sorted as Alertmanager
// sorts them, so a key made from them does not depend on which form the
// operator wrote.
func combineMatchers(eq, re map[string]string, ms Matchers) (Matchers, error) {
	out := make(Matchers, 0, len(eq)+len(re)+len(ms))
	for _, k := range slices.Sorted(maps.Keys(eq)) {
		m, err := amlabels.NewMatcher(amlabels.MatchEqual, k, eq[k])
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	for _, k := range slices.Sorted(maps.Keys(re)) {
		m, err := amlabels.NewMatcher(amlabels.MatchRegexp, k, re[k])
		if err != nil {
			return nil, fmt.Errorf("%s=~%q: %w", k, re[k], err)
		}
		out = append(out, m)
	}
	out = append(out, ms...)
	sort.Sort(amlabels.Matchers(out))
	return out, nil
}
