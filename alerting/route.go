package alerting

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Route sends the alerts it matches to a receiver, grouped.
type Route struct {
	Receiver string `yaml:"receiver"`
	// Match and MatchRE select alerts by label (all must hold); a route
	// with neither takes every alert.
	Match   map[string]string `yaml:"match"`
	MatchRE map[string]string `yaml:"match_re"`
	// GroupBy are the labels that make one group, hence one notification
	// (default [alertname]; ["..."] for every label). Group availability
	// alerts by classification and one outage of a shared provider is one
	// incident naming it.
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a new group gathers alerts before its first
	// notification (default 30s); GroupInterval how long before a changed
	// group is notified again (default 5m); RepeatInterval how long before
	// an unchanged firing group is notified again (default 4h).
	GroupWait      target.Duration `yaml:"group_wait"`
	GroupInterval  target.Duration `yaml:"group_interval"`
	RepeatInterval target.Duration `yaml:"repeat_interval"`
	// Continue lets later routes match the same alerts too.
	Continue bool `yaml:"continue"`
	// EscalateTo is the receiver told when a firing group is still not
	// acknowledged EscalateAfter after it was first notified (once per
	// incident).
	EscalateTo    string          `yaml:"escalate_to"`
	EscalateAfter target.Duration `yaml:"escalate_after"`
	// Fallback is told instead when the receiver keeps failing (after its
	// retries): a broken Slack token must not leave an outage untold.
	Fallback string `yaml:"fallback"`

	re map[string]*regexp.Regexp
}

// Prepare fills defaults and compiles the matchers.
func (r *Route) Prepare() error {
	if r.Receiver == "" {
		return fmt.Errorf("route needs a receiver")
	}
	if len(r.GroupBy) == 0 {
		r.GroupBy = []string{"alertname"}
	}
	for _, d := range []struct {
		f   *target.Duration
		def time.Duration
	}{{&r.GroupWait, 30 * time.Second}, {&r.GroupInterval, 5 * time.Minute}, {&r.RepeatInterval, 4 * time.Hour}} {
		if *d.f <= 0 {
			*d.f = target.Duration(d.def)
		}
	}
	if (r.EscalateTo == "") != (r.EscalateAfter <= 0) {
		return fmt.Errorf("escalate_to and escalate_after go together")
	}
	var err error
	if r.re, err = compileRE(r.MatchRE); err != nil {
		return fmt.Errorf("match_re %w", err)
	}
	return nil
}

// Matches reports whether the route takes alerts with labels ls.
func (r *Route) Matches(ls labels.Labels) bool { return matches(ls, r.Match, r.re) }

// groupLabels are the labels of ls that key its group on this route.
func (r *Route) groupLabels(ls labels.Labels) map[string]string {
	out := map[string]string{}
	if slices.Contains(r.GroupBy, "...") {
		return ls.Map()
	}
	for _, k := range r.GroupBy {
		if v := ls.Get(k); v != "" {
			out[k] = v
		}
	}
	return out
}

// groupKey names a group: its route and its labels.
func groupKey(route int, receiver string, gl map[string]string) string {
	keys := make([]string, 0, len(gl))
	for k := range gl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%s:{", route, receiver)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, gl[k])
	}
	b.WriteByte('}')
	return b.String()
}
