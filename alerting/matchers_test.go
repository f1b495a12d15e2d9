package alerting

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

// Issue 20, defect 9: Alertmanager's matcher syntax, with its own parser
// cases (alertmanager pkg/labels/parse_test.go), read back in one
// canonical form.
func TestParseMatchers(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: `{foo=bar}`, want: `{foo="bar"}`},
		{in: `{foo="bar"}`, want: `{foo="bar"}`},
		{in: `{foo=~bar.*}`, want: `{foo=~"bar.*"}`},
		{in: `{foo!=bar}`, want: `{foo!="bar"}`},
		{in: `{foo!~"bar.*"}`, want: `{foo!~"bar.*"}`},
		{in: `{foo="bar", baz!="quux"}`, want: `{baz!="quux",foo="bar"}`},
		{in: `{foo="bar",baz!~".*quux", derp="wat"}`, want: `{baz!~".*quux",derp="wat",foo="bar"}`},
		{in: `{foo="bar", instance=~"some-api.*"}`, want: `{foo="bar",instance=~"some-api.*"}`},
		{in: `{foo=""}`, want: `{foo=""}`},
		{in: `{foo="bar,quux", job="job1"}`, want: `{foo="bar,quux",job="job1"}`},
		{in: `{foo = "bar", dings != "bums", }`, want: `{dings!="bums",foo="bar"}`},
		{in: `foo=bar,dings!=bums`, want: `{dings!="bums",foo="bar"}`},
		{in: `{quote="She said: \"Hi, ladies! That's gender-neutral…\""}`, want: `{quote="She said: \"Hi, ladies! That's gender-neutral…\""}`},
		{in: `statuscode=~"5.."`, want: `{statuscode=~"5.."}`},
		{in: `tricky=~~~`, want: `{tricky=~"~~"}`},
		{in: `contains_quote != "\"" , contains_comma !~ "foo,bar" , `, want: `{contains_comma!~"foo,bar",contains_quote!="\""}`},
		{in: `job="value`, err: `matcher value contains unescaped double quote: "value`},
		{in: `job=value"`, err: `matcher value contains unescaped double quote: value"`},
		{in: `{invalid-name = "valid label"}`, err: `bad matcher format: invalid-name = "valid label"`},
		{in: `{foo=~"invalid[regexp"}`, err: "error parsing regexp: missing closing ]"},
		{in: `"foo=\"bar\""`, err: `bad matcher format`},
		{in: `{}`, err: `empty`},
		{in: ` `, err: `empty`},
	} {
		ms, err := parseMatcherList([]string{tc.in})
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case ms.String() != tc.want:
			t.Errorf("%s: read as %s, want %s", tc.in, ms, tc.want)
		}
	}
}

// The four operators, anchored regexps, and a missing label read as empty.
func TestMatchersMatch(t *testing.T) {
	ls := labels.FromStrings("alertname", "ServiceDownEverywhere", "sector", "energy", "severity", "page")
	for m, want := range map[string]bool{
		`sector="energy"`:                              true,
		`sector!="energy"`:                             false,
		`sector=~"ener"`:                               false, // anchored
		`sector=~"ener.*"`:                             true,
		`sector!~"finance|banking"`:                    true,
		`alertname=~"ServiceDown.*", severity!="info"`: true,
		`criticality=""`:                               true, // absent reads as empty
		`criticality!=""`:                              false,
		`criticality=~".+"`:                            false,
		`{sector="energy", severity!~"page|warning"}`:  false,
	} {
		ms, err := ParseMatchers(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := ms.Matches(ls); got != want {
			t.Errorf("%s: %v, want %v", m, got, want)
		}
	}
}

// The old match and match_re maps are still read, and mean the same as
// the new syntax: a route written either way has the same key.
func TestOldAndNewMatcherForms(t *testing.T) {
	old := parseRoutes(t, "- receiver: a\n  routes: [{match: {sector: energy}, match_re: {severity: page|warning}}]")
	neu := parseRoutes(t, "- receiver: a\n  routes: [{matchers: ['severity=~\"page|warning\"', sector=energy]}]")
	one := parseRoutes(t, "- receiver: a\n  routes: [{matchers: '{sector=\"energy\",severity=~\"page|warning\"}'}]")
	var keys []string
	for _, rs := range [][]Route{old, neu, one} {
		p, err := PrepareRoutes(rs, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, p[0].Routes[0].id)
		if !p[0].Routes[0].Matches(labels.FromStrings("sector", "energy", "severity", "warning")) ||
			p[0].Routes[0].Matches(labels.FromStrings("sector", "energy", "severity", "warningx")) {
			t.Errorf("%s: wrong matches", p[0].Routes[0].id)
		}
	}
	if keys[0] != keys[1] || keys[1] != keys[2] || keys[0] != `{}/{sector="energy",severity=~"page|warning"}` {
		t.Errorf("keys %q", keys)
	}
	var bad []Route
	err := yaml.Unmarshal([]byte("- receiver: a\n  matchers: ['sector=~\"(\"']"), &bad)
	if err == nil || !strings.Contains(err.Error(), "line 2: matcher") {
		t.Errorf("a bad matcher: %v", err)
	}

	// The route's own decoding (which records the timings written) stays strict.
	dec := yaml.NewDecoder(strings.NewReader("- receiver: a\n  routes:\n    - {recevier: b}"))
	dec.KnownFields(true)
	if err := dec.Decode(&bad); err == nil || !strings.Contains(err.Error(), "line 3: field recevier not found") {
		t.Errorf("a misspelt key in a child route: %v", err)
	}

	// Inhibit rules and silences take the new syntax too, beside the old.
	var rules []InhibitRule
	if err := yaml.Unmarshal([]byte(`
- source_matchers: ['alertname=~"ServiceDown(Everywhere|FromAbroadOnly)"']
  target_match: {alertname: LatencyAboveObjective}
  equal: [target]
- source_match: {alertname: AgentSilent}
  target_matchers: ['alertname="ServiceDownOnOneVantage"', 'severity!="info"']
  equal: [agent]
`), &rules); err != nil {
		t.Fatal(err)
	}
	for i := range rules {
		if err := rules[i].Prepare(); err != nil {
			t.Fatal(err)
		}
	}
	src := &Alert{Labels: labels.FromStrings("alertname", "AgentSilent", "agent", "a1")}
	tgt := &Alert{Labels: labels.FromStrings("alertname", "ServiceDownOnOneVantage", "agent", "a1", "severity", "page")}
	if !inhibited(tgt, []*Alert{src}, rules) {
		t.Error("target_matchers did not select the target")
	}
	tgt.Labels = labels.FromStrings("alertname", "ServiceDownOnOneVantage", "agent", "a1", "severity", "info")
	if inhibited(tgt, []*Alert{src}, rules) {
		t.Error("a != matcher was ignored")
	}
	var s Silence
	if err := json.Unmarshal([]byte(`{"match": ["target=~\"grid-.*\"", "severity!=\"info\""], "createdBy": "otto", "comment": "c"}`), &s); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.StartsAt, s.EndsAt = now.Add(-time.Minute), now.Add(time.Hour)
	if err := s.Prepare(); err != nil {
		t.Fatal(err)
	}
	if !s.Mutes(labels.FromStrings("target", "grid-portal", "severity", "page"), now) || s.Mutes(labels.FromStrings("target", "grid-portal", "severity", "info"), now) {
		t.Error("silence matchers")
	}
	if b, _ := json.Marshal(s.Match); string(b) != `["severity!=\"info\"","target=~\"grid-.*\""]` {
		t.Errorf("silence matchers as JSON: %s", b)
	}
}

// FuzzParseMatchers: whatever parses writes back in a form that parses to
// the same matchers (the route keys depend on it), and never panics.
func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{`{foo="bar", baz!~"quux.*"}`, `foo=bar,dings!=bums`, `tricky=~~~`, `{quote="a\"b"}`, `x=~"a\\b"`, `{a=""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			return
		}
		again, err := ParseMatchers(ms.String())
		if err != nil {
			t.Fatalf("%q read as %s, which does not parse: %v", s, ms, err)
		}
		if again.String() != ms.String() {
			t.Fatalf("%q read as %s, then as %s", s, ms, again)
		}
		ms.Matches(labels.FromStrings("foo", "bar"))
	})
}
