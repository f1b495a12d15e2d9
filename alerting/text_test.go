package alerting

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Headlines count in words that agree with the number (issue 20, defect
// 12: "1 service(s)").
func TestTitlePlurals(t *testing.T) {
	one := &Alert{Labels: labels.FromStrings("alertname", "ServiceDownEverywhere", "target", "portal")}
	two := &Alert{Labels: labels.FromStrings("alertname", "ServiceDownEverywhere", "target", "grid")}
	for _, tc := range []struct {
		n    *Notification
		want string
	}{
		{&Notification{Status: "firing", Alerts: []*Alert{one}}, "[FIRING] ServiceDownEverywhere: 1 service"},
		{&Notification{Status: "firing", Alerts: []*Alert{one, two}}, "[FIRING] ServiceDownEverywhere: 2 services"},
		{&Notification{Status: "resolved", Alerts: []*Alert{one}}, "[RESOLVED] ServiceDownEverywhere: recovered"},
		{&Notification{Status: "resolved", Alerts: []*Alert{one, two}}, "[RESOLVED] ServiceDownEverywhere: all 2 recovered"},
	} {
		if got := tc.n.Title(); got != tc.want {
			t.Errorf("Title() = %q, want %q", got, tc.want)
		}
	}
}

// A resolved alert says what holds now, not the problem it had (issue 20,
// defect 12: a RESOLVED message read "down from every vantage point").
func TestResolvedLinesSayRecovered(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	down := labels.FromStrings("alertname", "ServiceDownEverywhere", "target", "portal", "classification", "down-everywhere")
	ann := labels.FromStrings("summary", "portal is down from every vantage point reporting (2 agents agree).",
		ResolvedAnnotation, "portal is up again: it answers from a vantage point.")
	n := &Notification{Status: "resolved", Alerts: []*Alert{
		{Labels: down, Annotations: ann, StartsAt: start, EndsAt: start.Add(5 * time.Minute)},
		{Labels: labels.FromStrings("alertname", "Mine", "target", "grid"), Annotations: labels.FromStrings("summary", "grid is slow."),
			StartsAt: start, EndsAt: start.Add(time.Minute)},
	}}
	text := strings.Join(n.Lines(func(s string) string { return s }), "\n")
	if strings.Contains(text, "down from every vantage point") || !strings.Contains(text, "portal is up again") {
		t.Errorf("resolved lines say the service is still down:\n%s", text)
	}
	if !strings.Contains(text, "Was: grid is slow.") {
		t.Errorf("a rule without a resolved text: its summary is not marked as past:\n%s", text)
	}
	n.Status = "firing"
	n.Alerts[0].EndsAt = time.Time{}
	if text := strings.Join(n.Lines(func(s string) string { return s }), "\n"); !strings.Contains(text, "down from every vantage point") {
		t.Errorf("firing lines lack the summary:\n%s", text)
	}
}
