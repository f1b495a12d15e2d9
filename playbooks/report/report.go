// Package report makes a drill's report, as a disaster-recovery test
// report reads (NIS2-style): the scenario and cut; services lost, degraded
// and unaffected against the what-if's prediction, each difference
// explained; per service the time to detect and to recover measured from
// the drill's probe data, against its RTO; the playbook timeline; a
// verdict of pass, pass with conditions or fail; and charts rendered on
// the server as SVG. JSON, Markdown and a self-contained HTML page, each
// signed with the collector's key.
package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/playbooks/drill"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

// Verdicts.
const (
	Pass               = "pass"
	PassWithConditions = "pass with conditions"
	Fail               = "fail"
)

// Observed outcomes (the prediction's words, where they mean the same).
const (
	Lost       = depgraph.Lost
	Degraded   = depgraph.Degraded
	Unaffected = "unaffected"
	NoData     = "no-data"
)

// RTO results.
const (
	RTOMet         = "met"
	RTOMissed      = "missed"
	RTONotMeasured = "not measured" // the drill ended before the RTO, the service still lost
	RTONoTarget    = "no target"
	RTONotNeeded   = "not needed" // never lost everywhere
)

// Target is what the report needs of a target.
type Target struct {
	ID, Name, Sector string
	Criticality      int
	RTO              time.Duration
}

// Input is what a report is made from.
type Input struct {
	Drill   *drill.Drill
	Targets []Target
	Series  storage.Queryable
	Runs    []*runner.Run
	Now     time.Time
}

// Report is a drill's report.
type Report struct {
	Drill      Info                      `json:"drill"`
	Verdict    string                    `json:"verdict"`
	Conditions []string                  `json:"conditions,omitempty"`
	Totals     map[string]map[string]int `json:"totals"` // "predicted"/"observed" -> outcome -> services
	Services   []Service                 `json:"services"`
	Agents     []Agent                   `json:"agents"`
	Timeline   []Event                   `json:"timeline"`
	Generated  time.Time                 `json:"generated"`
}

// Info describes the drill.
type Info struct {
	ID        string    `json:"id"`
	Scenario  string    `json:"scenario"`
	StartedBy string    `json:"started_by"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	EndedBy   string    `json:"ended_by,omitempty"`
	Seconds   float64   `json:"duration_seconds"`
	Prefixes  int       `json:"cut_prefixes"`
	Names     int       `json:"cut_names"`
	Running   bool      `json:"running,omitempty"`
}

// Service is one service's measured outcome. Times are seconds after
// the drill's start; absent when it did not happen.
type Service struct {
	Target           string    `json:"target"`
	Name             string    `json:"name,omitempty"`
	Sector           string    `json:"sector"`
	Criticality      int       `json:"criticality,omitempty"`
	Predicted        string    `json:"predicted"`
	PredictedReasons []string  `json:"predicted_reasons,omitempty"`
	Observed         string    `json:"observed"`
	Difference       string    `json:"difference,omitempty"`
	Agents           int       `json:"agents"`
	FirstFailure     *float64  `json:"first_failure_seconds,omitempty"`
	Detected         *float64  `json:"time_to_detect_seconds,omitempty"`
	Recovered        *float64  `json:"time_to_recover_seconds,omitempty"`
	RTO              *float64  `json:"rto_seconds,omitempty"`
	RTOResult        string    `json:"rto_result"`
	FailureReasons   []string  `json:"failure_reasons,omitempty"`
	Segments         []Segment `json:"segments,omitempty"`
}

// Agent is when an agent took up the cut.
type Agent struct {
	Agent   string  `json:"agent"`
	Seconds float64 `json:"seconds_after_start"`
}

// Event is one entry of a playbook run's timeline.
type Event struct {
	Run      string `json:"run"`
	Playbook string `json:"playbook"`
	audit.Entry
}

func ptr(v float64) *float64 {
	if v < 0 {
		return nil
	}
	return &v
}

// Build measures the drill and makes its report.
func Build(ctx context.Context, in Input) (*Report, error) {
	d := in.Drill
	if d == nil || d.Prediction == nil {
		return nil, fmt.Errorf("report: no drill, or a drill without its prediction")
	}
	now := cmp.Or(in.Now, time.Now())
	end := d.Ends
	if !d.Ended.IsZero() {
		end = d.Ended
	}
	running := d.Ended.IsZero() && now.Before(d.Ends)
	if running {
		end = now
	}
	tls, err := measure(ctx, in.Series, d.ID, d.Started, end)
	if err != nil {
		return nil, err
	}
	r := &Report{Generated: now.UTC(), Totals: map[string]map[string]int{"predicted": {}, "observed": {}},
		Drill: Info{ID: d.ID, Scenario: d.Scenario, StartedBy: d.StartedBy, Started: d.Started, Ended: d.Ended, EndedBy: d.EndedBy,
			Seconds: end.Sub(d.Started).Seconds(), Running: running}}
	if d.Set != nil {
		r.Drill.Prefixes, r.Drill.Names = len(d.Set.Prefixes), len(d.Set.Names)
	}
	info := make(map[string]Target, len(in.Targets))
	for _, t := range in.Targets {
		info[t.ID] = t
	}
	predicted := map[string]bool{}
	for _, im := range d.Prediction.Services {
		predicted[im.Target] = true
		r.Services = append(r.Services, service(im, info[im.Target], tls[im.Target], r.Drill.Seconds))
	}
	for id, tl := range tls { // probed under the drill, unknown to the graph
		if !predicted[id] {
			t := info[id]
			r.Services = append(r.Services, service(depgraph.Impact{Target: id, Sector: t.Sector, Criticality: t.Criticality, Outcome: depgraph.Untouched}, t, tl, r.Drill.Seconds))
		}
	}
	for i := range r.Services {
		s := &r.Services[i]
		r.Totals["predicted"][s.Predicted]++
		r.Totals["observed"][s.Observed]++
	}
	slices.SortFunc(r.Services, func(a, b Service) int {
		return cmp.Or(cmp.Compare(rank[a.Observed], rank[b.Observed]), cmp.Compare(orLast(a.Criticality), orLast(b.Criticality)), strings.Compare(a.Target, b.Target))
	})
	for a, at := range d.Agents {
		r.Agents = append(r.Agents, Agent{Agent: a, Seconds: at.Sub(d.Started).Seconds()})
	}
	slices.SortFunc(r.Agents, func(a, b Agent) int { return cmp.Compare(a.Seconds, b.Seconds) })
	for _, run := range in.Runs {
		for _, e := range run.Timeline {
			r.Timeline = append(r.Timeline, Event{Run: run.ID, Playbook: run.Playbook, Entry: e})
		}
	}
	slices.SortStableFunc(r.Timeline, func(a, b Event) int { return a.At.Compare(b.At) })
	r.Verdict, r.Conditions = verdict(r)
	return r, nil
}

var rank = map[string]int{Lost: 0, Degraded: 1, NoData: 2, Unaffected: 3}

func orLast(c int) int {
	if c == 0 {
		return 9
	}
	return c
}

// service compares one service's prediction with what its agents saw.
func service(im depgraph.Impact, t Target, tl *timeline, seconds float64) Service {
	s := Service{Target: im.Target, Name: t.Name, Sector: cmp.Or(im.Sector, t.Sector), Criticality: cmp.Or(im.Criticality, t.Criticality),
		Predicted: im.Outcome, PredictedReasons: im.Reasons, Observed: NoData, RTOResult: RTONoTarget}
	if s.Predicted == depgraph.Untouched {
		s.Predicted = Unaffected
	}
	if t.RTO > 0 {
		s.RTO = ptr(t.RTO.Seconds())
	}
	if tl != nil {
		s.Agents = tl.agents
		s.FirstFailure, s.Detected, s.Segments = ptr(tl.firstFailure), ptr(tl.detected), tl.segments
		switch {
		case tl.firstDown >= 0:
			s.Observed = Lost
		case tl.firstFailure >= 0:
			s.Observed = Degraded
		default:
			s.Observed = Unaffected
		}
		if s.Observed != Unaffected {
			s.Recovered = ptr(tl.recovered)
		}
		for r := range tl.reasons {
			s.FailureReasons = append(s.FailureReasons, r)
		}
		slices.Sort(s.FailureReasons)
	}
	if s.Observed != Lost {
		s.Segments = slices.DeleteFunc(s.Segments, func(Segment) bool { return s.Observed == Unaffected })
	}
	// The RTO bounds a loss: a service still answering somewhere, or
	// everywhere, did not need recovering.
	switch {
	case s.Observed != Lost:
		s.RTOResult = RTONotNeeded
	case s.RTO == nil:
		s.RTOResult = RTONoTarget
	case s.Recovered != nil && *s.Recovered <= *s.RTO:
		s.RTOResult = RTOMet
	case s.Recovered != nil || seconds >= *s.RTO:
		s.RTOResult = RTOMissed
	default:
		s.RTOResult = RTONotMeasured
	}
	s.Difference = explain(s)
	return s
}

// explain says why the observation differs from the prediction ("" when
// it does not).
func explain(s Service) string {
	reasons := ""
	if len(s.FailureReasons) > 0 {
		reasons = " (probes failed with: " + strings.Join(s.FailureReasons, ", ") + ")"
	}
	ownCause := len(s.FailureReasons) > 0 && !slices.Contains(s.FailureReasons, "drill_cut")
	switch {
	case s.Observed == NoData:
		return "no agent probed it under the drill: it is not on any agent's list, or the agents had not taken up the cut"
	case s.Predicted == depgraph.Unknown:
		return "the what-if could not tell: some of its critical dependencies are unattributed; observed " + s.Observed + reasons
	case s.Predicted == s.Observed, s.Predicted == Degraded && s.Observed == Unaffected:
		return ""
	case s.Predicted == Lost:
		return "predicted lost, but it answered from at least one vantage under the cut: its probes reached addresses or name servers outside the cut (changed since the graph was built, or a redundancy the graph does not show)" + reasons
	case ownCause:
		return "failed during the drill for reasons of its own, not the cut" + reasons
	default:
		return "predicted " + s.Predicted + ", observed " + s.Observed + ": it depends on something inside the cut that its dependency graph does not hold (not yet observed, or unattributed), or its redundancy did not hold" + reasons
	}
}

// verdict: fail when a critical service (criticality 1) missed its RTO or
// no agent took part; pass with conditions for any other RTO miss, a lost
// service with no RTO or never alerted on, or a difference from the
// prediction; pass otherwise.
func verdict(r *Report) (string, []string) {
	var fail, cond []string
	if len(r.Agents) == 0 {
		fail = append(fail, "no agent took up the cut: nothing was measured")
	}
	for _, s := range r.Services {
		switch {
		case s.RTOResult == RTOMissed && s.Criticality == 1:
			fail = append(fail, fmt.Sprintf("%s (criticality 1) missed its RTO of %s", s.Target, dur(*s.RTO)))
		case s.RTOResult == RTOMissed:
			cond = append(cond, fmt.Sprintf("%s missed its RTO of %s", s.Target, dur(*s.RTO)))
		case s.RTOResult == RTONotMeasured:
			cond = append(cond, fmt.Sprintf("%s was still lost when the drill ended, before its RTO of %s: not measured", s.Target, dur(*s.RTO)))
		case s.RTOResult == RTONoTarget:
			cond = append(cond, fmt.Sprintf("%s was %s and has no RTO target", s.Target, s.Observed))
		}
		if s.Observed == Lost && s.Detected == nil {
			cond = append(cond, fmt.Sprintf("%s was lost but no alert fired for it", s.Target))
		}
		if s.Difference != "" && s.Observed != NoData {
			cond = append(cond, fmt.Sprintf("%s: %s", s.Target, s.Difference))
		}
	}
	switch {
	case len(fail) > 0:
		return Fail, append(fail, cond...)
	case len(cond) > 0:
		return PassWithConditions, cond
	}
	return Pass, nil
}

func dur(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}
