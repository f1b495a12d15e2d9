package alerting

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Route sends the alerts it matches to a receiver, grouped. Routes form a
// tree, as in Alertmanager: an alert a route matches goes down to the first
// child route that matches it too (and to later ones while they say
// continue); only when no child takes it does the route itself. A child
// inherits its parent's receiver, group_by, timings, escalation and
// fallback unless it sets them, so a tree reads "energy goes to #energy,
// and its critical services page".
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
	// Routes are the child routes, tried in order.
	Routes []Route `yaml:"routes"`

	id string // the route's place in the tree ("0", "0.2"): part of its group keys
	re map[string]*regexp.Regexp
}

// maxRouteDepth bounds the routing tree: a configuration is input too.
const maxRouteDepth = 16

// PrepareRoutes checks a routing tree and returns a prepared copy (the
// input is not changed): defaults filled, children given what they inherit,
// matchers compiled. has reports whether a receiver exists (nil: any does).
// Errors name the route by its path, e.g. routes[0].routes[2].
func PrepareRoutes(routes []Route, has func(string) bool) ([]Route, error) {
	return prepareRoutes(routes, nil, "", has, 0)
}

func prepareRoutes(routes []Route, parent *Route, id string, has func(string) bool, depth int) ([]Route, error) {
	if depth >= maxRouteDepth && len(routes) > 0 {
		return nil, fmt.Errorf("routes nested deeper than %d", maxRouteDepth)
	}
	out := make([]Route, len(routes))
	for i := range routes {
		r := &out[i]
		*r = routes[i]
		r.id = strconv.Itoa(i)
		if id != "" {
			r.id = id + "." + r.id
		}
		if err := r.prepare(parent, has); err != nil {
			return nil, fmt.Errorf("%s: %w", routePath(r.id), err)
		}
		children, err := prepareRoutes(routes[i].Routes, r, r.id, has, depth+1)
		if err != nil {
			return nil, err
		}
		r.Routes = children
	}
	return out, nil
}

// routePath spells a route id as its configuration path.
func routePath(id string) string {
	var b strings.Builder
	for i, part := range strings.Split(id, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		fmt.Fprintf(&b, "routes[%s]", part)
	}
	return b.String()
}

// prepare fills r's defaults, from its parent where it has one.
func (r *Route) prepare(parent *Route, has func(string) bool) error {
	def := Route{GroupBy: []string{"alertname"}, GroupWait: target.Duration(30 * time.Second),
		GroupInterval: target.Duration(5 * time.Minute), RepeatInterval: target.Duration(4 * time.Hour)}
	if parent != nil {
		def = *parent
	}
	if r.Receiver == "" {
		r.Receiver = def.Receiver
	}
	if r.Receiver == "" {
		return fmt.Errorf("route needs a receiver")
	}
	if len(r.GroupBy) == 0 {
		r.GroupBy = def.GroupBy
	}
	for _, d := range []struct{ f, def *target.Duration }{
		{&r.GroupWait, &def.GroupWait}, {&r.GroupInterval, &def.GroupInterval}, {&r.RepeatInterval, &def.RepeatInterval}} {
		if *d.f <= 0 {
			*d.f = *d.def
		}
	}
	if r.EscalateTo == "" && r.EscalateAfter <= 0 {
		r.EscalateTo, r.EscalateAfter = def.EscalateTo, def.EscalateAfter
	}
	if (r.EscalateTo == "") != (r.EscalateAfter <= 0) {
		return fmt.Errorf("escalate_to and escalate_after go together")
	}
	if r.Fallback == "" {
		r.Fallback = def.Fallback
	}
	if has != nil {
		for _, name := range []string{r.Receiver, r.EscalateTo, r.Fallback} {
			if name != "" && !has(name) {
				return fmt.Errorf("no receiver named %q", name)
			}
		}
	}
	var err error
	if r.re, err = compileRE(r.MatchRE); err != nil {
		return fmt.Errorf("match_re %w", err)
	}
	return nil
}

// matchRoutes returns the routes of a prepared tree that take alerts with
// labels ls: the deepest matching route on each branch followed.
func matchRoutes(routes []Route, ls labels.Labels) []*Route {
	var out []*Route
	for i := range routes {
		r := &routes[i]
		if !r.Matches(ls) {
			continue
		}
		if sub := matchRoutes(r.Routes, ls); len(sub) > 0 {
			out = append(out, sub...)
		} else {
			out = append(out, r)
		}
		if !r.Continue {
			break
		}
	}
	return out
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
func groupKey(route, receiver string, gl map[string]string) string {
	keys := make([]string, 0, len(gl))
	for k := range gl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s:{", route, receiver)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, gl[k])
	}
	b.WriteByte('}')
	return b.String()
}
