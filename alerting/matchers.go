package alerting

import (
	"fmt"
	"regexp"

	"github.com/prometheus/prometheus/model/labels"
)

// compileRE compiles label regexps, anchored as in Alertmanager and PromQL.
func compileRE(m map[string]string) (map[string]*regexp.Regexp, error) {
	out := make(map[string]*regexp.Regexp, len(m))
	for k, v := range m {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s=~%q: %w", k, v, err)
		}
		out[k] = re
	}
	return out, nil
}

// matches reports whether ls has every label of eq and matches every regexp of re.
func matches(ls labels.Labels, eq map[string]string, re map[string]*regexp.Regexp) bool {
	for k, v := range eq {
		if ls.Get(k) != v {
			return false
		}
	}
	for k, r := range re {
		if !r.MatchString(ls.Get(k)) {
			return false
		}
	}
	return true
}
