package alerting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

// A routing tree as an operator writes it: energy to #energy (its critical
// services also page the duty officer), finance to #finance with its own
// timings, everything else to the catch-all.
const treeYAML = `
- receiver: catchall
  group_wait: 10s
  routes:
    - match: {sector: energy}
      receiver: energy
      continue: true
      routes:
        - match: {criticality: critical}
          receiver: duty
          escalate_to: director
          escalate_after: 15m
    - match: {sector: energy}
      receiver: audit
    - match_re: {sector: "finance|banking"}
      receiver: finance
      group_wait: 1m
`

func TestRoutingTree(t *testing.T) {
	var routes []Route
	if err := yaml.Unmarshal([]byte(treeYAML), &routes); err != nil {
		t.Fatal(err)
	}
	prepared, err := PrepareRoutes(routes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if routes[0].Routes[0].Routes[0].GroupWait != 0 {
		t.Fatal("PrepareRoutes changed its input")
	}
	for _, tc := range []struct {
		labels []string
		want   string // receiver/group_wait of each route taking it
	}{
		{[]string{"sector", "energy", "criticality", "critical"}, "duty/10s audit/10s"},
		{[]string{"sector", "energy", "criticality", "high"}, "energy/10s audit/10s"},
		{[]string{"sector", "banking"}, "finance/1m0s"},
		{[]string{"sector", "government"}, "catchall/10s"},
	} {
		var got []string
		for _, r := range matchRoutes(prepared, labels.FromStrings(tc.labels...)) {
			got = append(got, r.Receiver+"/"+time.Duration(r.GroupWait).String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v: routed to %q, want %q", tc.labels, got, tc.want)
		}
	}
	duty := &prepared[0].Routes[0].Routes[0]
	if duty.id != `{}/{sector="energy"}/{criticality="critical"}` || duty.RepeatInterval != prepared[0].RepeatInterval || duty.EscalateTo != "director" {
		t.Errorf("duty route: id %q, repeat %v, escalate_to %q", duty.id, duty.RepeatInterval, duty.EscalateTo)
	}
	if audit := prepared[0].Routes[1].id; audit != `{}/{sector="energy"}#2` {
		t.Errorf("a sibling with the same matchers: key %q", audit)
	}
	if prepared[0].Routes[1].EscalateTo != "" {
		t.Error("a sibling inherited escalation from another branch")
	}
}

func TestRoutingTreeErrors(t *testing.T) {
	has := func(n string) bool { return n != "ghost" }
	for yml, want := range map[string]string{
		"- routes: [{receiver: a}]":                                   "routes[0]: route needs a receiver",
		"- receiver: a\n  routes: [{receiver: b}, {receiver: ghost}]": `routes[0].routes[1]: no receiver named "ghost"`,
		"- receiver: a\n  routes: [{match_re: {x: '('}}]":             "routes[0].routes[0]: match_re",
		"- receiver: a\n  group_interval: 0s":                         "routes[0]: group_interval cannot be zero",
		"- receiver: a\n  routes: [{repeat_interval: 0s}]":            "routes[0].routes[0]: repeat_interval cannot be zero",
		"- receiver: a\n  group_wait: -1s":                            "routes[0]: group_wait must not be negative",
		"- receiver: a\n  routes: [{escalate_to: b}]":                 "routes[0].routes[0]: escalate_to and escalate_after go together",
		"- receiver: a\n  routes:\n" + deepRoutes(maxRouteDepth):      "nested deeper than",
	} {
		var routes []Route
		if err := yaml.Unmarshal([]byte(yml), &routes); err != nil {
			t.Fatalf("%s: %v", yml, err)
		}
		_, err := PrepareRoutes(routes, has)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", yml, err, want)
		}
	}
}

// deepRoutes nests n flow-style child routes.
func deepRoutes(n int) string {
	return "    " + strings.Repeat("[{receiver: a, routes: ", n) + "[]" + strings.Repeat("}]", n) + "\n"
}

// The dispatcher delivers along the tree: one alert reaches both receivers
// its branches name, each its own group.
func TestDispatcherFollowsTree(t *testing.T) {
	var routes []Route
	if err := yaml.Unmarshal([]byte(treeYAML), &routes); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := map[string]*recorder{}
	receivers := map[string]Receiver{}
	for _, n := range []string{"catchall", "energy", "duty", "director", "audit", "finance"} {
		rcv[n] = &recorder{}
		receivers[n] = rcv[n]
	}
	d, err := NewDispatcher(DispatcherOptions{Routes: routes, Receivers: receivers, Log: &MemLog{}, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	a := down("grid-operator", c.t)
	a.Labels = labels.NewBuilder(a.Labels).Set("sector", "energy").Set("criticality", "critical").Labels()
	d.Add([]*Alert{a})
	c.advance(11 * time.Second)
	d.FlushDue(context.Background())
	for n, want := range map[string]int{"duty": 1, "audit": 1, "energy": 0, "catchall": 0, "finance": 0} {
		if got := rcv[n].count(); got != want {
			t.Errorf("%s got %d notifications, want %d", n, got, want)
		}
	}
}
