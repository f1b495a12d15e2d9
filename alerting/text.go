package alerting

import (
	"fmt"
	"strings"
)

// maxLines bounds the alerts a notification lists one by one.
const maxLines = 20

// Title is the notification's headline, e.g.
// "[FIRING] ServiceDownEverywhere: 3 services", "[RESOLVED] ...: recovered".
func (n *Notification) Title() string {
	name := ""
	if len(n.Alerts) > 0 {
		name = n.Alerts[0].Labels.Get("alertname")
	}
	if n.Status == "resolved" {
		if len(n.Alerts) == 1 {
			return fmt.Sprintf("[RESOLVED] %s: recovered", name)
		}
		return fmt.Sprintf("[RESOLVED] %s: all %d recovered", name, len(n.Alerts))
	}
	return fmt.Sprintf("[FIRING] %s: %s", name, Plural(len(n.Firing()), "service", "services"))
}

// Plural is n with the singular or the plural noun: "1 service", "2 services".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ResolvedAnnotation names the annotation a rule may give for the text of
// its alerts once resolved ("portal is up again"): the summary describes
// the problem, which a recovery must not repeat as if it still held.
const ResolvedAnnotation = "resolved"

// CauseText describes the probable shared cause ("" when there is none):
// the provider, its jurisdiction and layer, and the services that share it.
func (n *Notification) CauseText() string {
	c := n.Cause
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%s (%s), %s layer, common to %d of %d services: %s", c.Name, c.Jurisdiction, c.Layer,
		len(c.Targets), n.Affected(), strings.Join(c.Targets, ", "))
}

// Lines lists the alerts, one each (the first maxLines, then a count):
// where, the classification, since when, and the summary below. emphasis
// marks the service's name (Slack's *bold*; identity for plain text).
func (n *Notification) Lines(emphasis func(string) string) []string {
	var lines []string
	for i, a := range n.Alerts {
		if i == maxLines {
			lines = append(lines, fmt.Sprintf("... and %d more", len(n.Alerts)-maxLines))
			break
		}
		state := "since"
		if strings.HasPrefix(a.Labels.Get("classification"), "down-") {
			state = "down since"
		}
		if a.Resolved() {
			state = "recovered " + a.EndsAt.UTC().Format("15:04 MST") + ", since"
		}
		where := a.Labels.Get("target")
		if where == "" {
			where = a.Labels.Get("agent")
		}
		line := fmt.Sprintf("• %s (%s) %s %s", emphasis(where), a.Labels.Get("classification"), state, a.StartsAt.UTC().Format("2006-01-02 15:04 MST"))
		if s := summary(a); s != "" {
			line += "\n   " + s
		}
		lines = append(lines, line)
	}
	return lines
}

// summary is the line below an alert: its summary while it fires; once
// resolved, its resolved annotation, or the summary marked as past.
func summary(a *Alert) string {
	s := a.Annotations.Get("summary")
	if !a.Resolved() {
		return s
	}
	if r := a.Annotations.Get(ResolvedAnnotation); r != "" {
		return r
	}
	if s == "" {
		return ""
	}
	return "Was: " + s
}
