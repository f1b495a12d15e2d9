package alerting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/internal/configfile"
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
	// Matchers select alerts by label, in Alertmanager's syntax (=, !=,
	// =~, !~; all must hold). Match (label: value) and MatchRE (label:
	// regexp) are the older forms, still read; a route with none of them
	// takes every alert.
	Matchers Matchers          `yaml:"matchers"`
	Match    map[string]string `yaml:"match"`
	MatchRE  map[string]string `yaml:"match_re"`
	// GroupBy are the labels that make one group, hence one notification
	// (default [alertname]; ["..."] for every label). Group availability
	// alerts by classification and one outage of a shared provider is one
	// incident naming it.
	GroupBy []string `yaml:"group_by"`
	// GroupWait is how long a new group gathers alerts before its first
	// notification (default 30s; 0s sends at once); GroupInterval how long
	// before a changed group is notified again (default 5m); RepeatInterval
	// how long before an unchanged firing group is notified again (default
	// 4h). Unset, a route inherits its parent's. A value written in YAML is
	// told apart from an unset one, so "group_wait: 0s" means zero; in Go,
	// a zero field is unset.
	GroupWait      configfile.Duration `yaml:"group_wait"`
	GroupInterval  configfile.Duration `yaml:"group_interval"`
	RepeatInterval configfile.Duration `yaml:"repeat_interval"`
	// Continue lets later routes match the same alerts too.
	Continue bool `yaml:"continue"`
	// EscalateTo is the receiver told when a firing group is still not
	// acknowledged EscalateAfter after it was first notified (once per
	// incident).
	EscalateTo    string              `yaml:"escalate_to"`
	EscalateAfter configfile.Duration `yaml:"escalate_after"`
	// Fallback is told instead when the receiver keeps failing (after its
	// retries): a broken Slack token must not leave an outage untold.
	Fallback string `yaml:"fallback"`
	// Routes are the child routes, tried in order.
	Routes []Route `yaml:"routes"`

	// id is the route's key: its matcher chain from the top, as
	// Alertmanager's Route.Key, e.g. {}/{sector="energy"}; a later sibling
	// with the same matchers gets #2, #3. Part of its group keys, so
	// adding or moving other routes keeps open incidents (acks, threads).
	id       string
	matchers Matchers // Matchers, Match and MatchRE together, sorted
	set      timings  // which timings the YAML wrote
}

// timings records which of a route's timings its YAML set.
type timings uint8

const (
	setGroupWait timings = 1 << iota
	setGroupInterval
	setRepeatInterval
)

// UnmarshalYAML decodes a route (strictly: the function form keeps the
// decoder's known-fields check) and records which timings it wrote.
func (r *Route) UnmarshalYAML(unmarshal func(any) error) error {
	type plain Route
	if err := unmarshal((*plain)(r)); err != nil {
		return err
	}
	var keys map[string]any
	if err := unmarshal(&keys); err != nil {
		return err
	}
	r.set = 0
	for k, bit := range map[string]timings{"group_wait": setGroupWait, "group_interval": setGroupInterval, "repeat_interval": setRepeatInterval} {
		if _, ok := keys[k]; ok {
			r.set |= bit
		}
	}
	return nil
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

func prepareRoutes(routes []Route, parent *Route, path string, has func(string) bool, depth int) ([]Route, error) {
	if depth >= maxRouteDepth && len(routes) > 0 {
		return nil, fmt.Errorf("routes nested deeper than %d", maxRouteDepth)
	}
	out := make([]Route, len(routes))
	seen := map[string]int{} // siblings' matcher strings
	for i := range routes {
		r := &out[i]
		*r = routes[i]
		at := fmt.Sprintf("%sroutes[%d]", path, i)
		if err := r.prepare(parent, has); err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		ms := r.matchers.String()
		if seen[ms]++; seen[ms] > 1 {
			ms += "#" + strconv.Itoa(seen[ms])
		}
		r.id = ms
		if parent != nil {
			r.id = parent.id + "/" + ms
		}
		children, err := prepareRoutes(routes[i].Routes, r, at+".", has, depth+1)
		if err != nil {
			return nil, err
		}
		r.Routes = children
	}
	return out, nil
}

// prepare fills r's defaults, from its parent where it has one.
func (r *Route) prepare(parent *Route, has func(string) bool) error {
	def := Route{GroupBy: []string{"alertname"}, GroupWait: configfile.Duration(30 * time.Second),
		GroupInterval: configfile.Duration(5 * time.Minute), RepeatInterval: configfile.Duration(4 * time.Hour)}
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
	for _, d := range []struct {
		name   string
		bit    timings
		f, def *configfile.Duration
		zeroOK bool
	}{
		{"group_wait", setGroupWait, &r.GroupWait, &def.GroupWait, true},
		{"group_interval", setGroupInterval, &r.GroupInterval, &def.GroupInterval, false},
		{"repeat_interval", setRepeatInterval, &r.RepeatInterval, &def.RepeatInterval, false},
	} {
		switch {
		case *d.f < 0:
			return fmt.Errorf("%s must not be negative", d.name)
		case *d.f == 0 && r.set&d.bit != 0 && !d.zeroOK:
			return fmt.Errorf("%s cannot be zero", d.name) // as in Alertmanager: it would notify on every tick
		case *d.f == 0 && r.set&d.bit == 0:
			*d.f = *d.def // unset: inherited
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
	if r.matchers, err = combineMatchers(r.Match, r.MatchRE, r.Matchers); err != nil {
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

// Matches reports whether the route takes alerts with labels ls (a route
// not prepared compiles its matchers each time; one that cannot takes none).
func (r *Route) Matches(ls labels.Labels) bool {
	if r.matchers == nil && r.HasMatchers() {
		ms, err := combineMatchers(r.Match, r.MatchRE, r.Matchers)
		return err == nil && ms.Matches(ls)
	}
	return r.matchers.Matches(ls)
}

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

// ErrMayDrop is the error of a routing tree some alerts can fall through.
var ErrMayDrop = errors.New("no route takes every alert, so an alert none matches would be dropped: end the list with a route with a receiver and no matchers")

// CheckCatchAll reports ErrMayDrop unless some top-level route has no
// matchers: such a route, or an earlier one, takes every alert (a route
// whose children all refuse an alert takes it itself), so none falls
// through. An empty tree routes nothing and is not checked here.
func CheckCatchAll(routes []Route) error {
	if len(routes) == 0 || slices.ContainsFunc(routes, func(r Route) bool { return !r.HasMatchers() }) {
		return nil
	}
	return ErrMayDrop
}

// HasMatchers reports whether the route selects alerts in any form: a root
// route, such as the drill route, must not.
func (r *Route) HasMatchers() bool { return len(r.Matchers)+len(r.Match)+len(r.MatchRE) > 0 }

// Discard is the receiver that tells nobody: the catch-all route of a tree
// whose remaining alerts are deliberately not notified (Alertmanager's
// receiver without configuration).
type Discard struct{}

// Notify does nothing.
func (Discard) Notify(context.Context, *Notification) (bool, error) { return false, nil }
