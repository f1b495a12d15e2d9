package collector

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/rules"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/console"
)

// consoleAlerts is what the console shows of alerting: the active alerts,
// the open incidents with their probable shared cause, and the silences.
func (a *App) consoleAlerts() console.AlertState {
	st := console.AlertState{Enabled: a.rules != nil}
	if a.rules == nil {
		return st
	}
	for _, r := range a.rules.AlertingRules() {
		for _, al := range r.ActiveAlerts() {
			if al.State != rules.StateFiring && al.State != rules.StatePending {
				continue
			}
			ls := al.Labels
			ca := console.Alert{Name: r.Name(), State: al.State.String(), Severity: ls.Get("severity"),
				Classification: ls.Get("classification"), Target: ls.Get("target"), Agent: ls.Get("agent"),
				Summary: al.Annotations.Get("summary"), Since: al.ActiveAt, Drill: ls.Get("drill")}
			if !al.FiredAt.IsZero() {
				ca.Since = al.FiredAt
			}
			if a.silencer != nil {
				ca.Silenced = a.silencer.Muted(ls) != nil
			}
			st.Alerts = append(st.Alerts, ca)
		}
	}
	if a.dispatcher != nil {
		for _, in := range a.dispatcher.Incidents() {
			ci := console.Incident{ID: alerting.ShortID(in.GroupKey), Labels: groupLabels(in.GroupLabels), Receiver: in.Receiver, Silenced: in.Silenced}
			for _, al := range in.Alerts {
				if t := al.Labels.Get("target"); t != "" && !slices.Contains(ci.Services, t) {
					ci.Services = append(ci.Services, t)
				}
			}
			slices.Sort(ci.Services)
			n := &alerting.Notification{Alerts: in.Alerts, Cause: a.sharedCause(availabilityDown(in.Alerts))}
			ci.Cause = n.CauseText()
			if ack := in.Ack; ack != nil && !ack.Removed {
				ci.Ack = fmt.Sprintf("%s at %s UTC", ack.By, ack.At.UTC().Format("2006-01-02 15:04"))
				if ack.Comment != "" {
					ci.Ack += ": " + ack.Comment
				}
			}
			st.Incidents = append(st.Incidents, ci)
		}
	}
	if a.silencer != nil {
		now := time.Now()
		for _, s := range a.silencer.List() {
			if !s.EndsAt.IsZero() && !s.EndsAt.After(now) {
				continue // expired
			}
			cs := console.Silence{ID: s.ID, By: s.By, Comment: s.Comment, Until: s.EndsAt, Matchers: silenceMatchers(s)}
			if s.Schedule != "" {
				cs.Window = fmt.Sprintf("every %q for %v (%s)", s.Schedule, s.Duration, cmp.Or(s.TZ, "UTC"))
			} else {
				cs.Window = "from " + s.StartsAt.UTC().Format("2006-01-02 15:04") + " UTC"
			}
			st.Silences = append(st.Silences, cs)
		}
	}
	return st
}

// availabilityDown lists the services of alerts that say a service is
// down (as the dispatcher names a cause): a shared cause explains an
// outage, not a group of certificate, latency or sovereignty alerts.
func availabilityDown(alerts []*alerting.Alert) []string {
	var out []string
	for _, al := range alerts {
		c := al.Labels.Get("classification")
		if t := al.Labels.Get("target"); t != "" && strings.HasPrefix(c, "down-") && c != "down-on-one-vantage" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

func groupLabels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func silenceMatchers(s *alerting.Silence) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Matchers)) {
		parts = append(parts, k+"="+s.Matchers[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.MatchRE)) {
		parts = append(parts, k+"=~"+s.MatchRE[k])
	}
	for _, m := range s.Match {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ", ")
}

// consoleDrill is the drill running now, for the console's banner.
func (a *App) consoleDrill() *console.Drill {
	if a.drills == nil {
		return nil
	}
	now := time.Now()
	for _, d := range a.drills.List() {
		if d.Running(now) {
			return &console.Drill{ID: d.ID, Scenario: d.Scenario, Cut: d.Cut.String(), Started: d.Started, Ends: d.Ends}
		}
	}
	return nil
}

// targetIDs lists every known target's id (configured and imported).
func (a *App) targetIDs() []string {
	if a.reloader == nil {
		return nil
	}
	ts := a.reloader.targets()
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}
