package report

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// States of a service over a drill, as its agents saw it under the cut.
const (
	StateUp      = "up"
	StatePartial = "partial" // down from some agents
	StateDown    = "down"    // down from every agent reporting
)

// Segment is a stretch of one state, in seconds after the drill's start.
type Segment struct {
	From  float64 `json:"from"`
	To    float64 `json:"to"`
	State string  `json:"state"`
}

// timeline is what the probe data says of one service under the drill.
type timeline struct {
	segments     []Segment
	firstFailure float64 // -1: never
	firstDown    float64 // -1: never down everywhere
	recovered    float64 // -1: not up everywhere again, for good, after failing
	agents       int
	reasons      map[string]bool // probe_failure_info reasons
	detected     float64         // first firing drill alert, -1: none
}

// run is one agent's probe run: its checks' results within a second or two.
type run struct {
	agent string
	t     int64 // ms
	up    bool
}

// runGap joins the samples of one probe run (its checks run one after
// the other, each stamped when it ends).
const runGap = 2000 // ms

// measure reads the drill's series between from and to and builds each
// target's timeline.
func measure(ctx context.Context, q storage.Queryable, drill string, from, to time.Time) (map[string]*timeline, error) {
	qr, err := q.Querier(from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer qr.Close()
	runs := map[string][]run{}
	var it chunkenc.Iterator
	set := qr.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "probe_success"),
		labels.MustNewMatcher(labels.MatchEqual, "drill", drill), labels.MustNewMatcher(labels.MatchNotEqual, "check", "deps"))
	for set.Next() {
		s := set.At()
		ls := s.Labels()
		tg, agent := ls.Get("target"), ls.Get("agent")
		it = s.Iterator(it)
		rs := runs[tg]
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			rs = append(rs, run{agent: agent, t: t, up: v == 1})
		}
		runs[tg] = rs
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("report: read %s: %w", ls, err)
		}
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("report: read probe results: %w", err)
	}
	out := make(map[string]*timeline, len(runs))
	for tg, rs := range runs {
		out[tg] = build(rs, from.UnixMilli(), to.UnixMilli())
	}
	// Why probes failed, and when an alert first fired, per target.
	set = qr.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "probe_failure_info"),
		labels.MustNewMatcher(labels.MatchEqual, "drill", drill))
	for set.Next() {
		ls := set.At().Labels()
		if tl := out[ls.Get("target")]; tl != nil {
			tl.reasons[ls.Get("reason")] = true
		}
	}
	set = qr.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "ALERTS"),
		labels.MustNewMatcher(labels.MatchEqual, "drill", drill), labels.MustNewMatcher(labels.MatchEqual, "alertstate", "firing"))
	for set.Next() {
		s := set.At()
		tl := out[s.Labels().Get("target")]
		if tl == nil {
			continue
		}
		it = s.Iterator(it)
		if it.Next() == chunkenc.ValFloat {
			t, _ := it.At()
			if at := secs(t, from.UnixMilli()); tl.detected < 0 || at < tl.detected {
				tl.detected = at
			}
		}
	}
	return out, set.Err()
}

func secs(t, start int64) float64 { return float64(t-start) / 1000 }

// build turns one target's samples into its timeline: each agent's runs
// (the worst of its checks), then, run by run, the service's state from
// the latest run of every agent seen so far.
func build(samples []run, start, end int64) *timeline {
	slices.SortFunc(samples, func(a, b run) int {
		if a.agent != b.agent {
			if a.agent < b.agent {
				return -1
			}
			return 1
		}
		return int(a.t - b.t)
	})
	var runs []run
	for _, s := range samples {
		if n := len(runs); n > 0 && runs[n-1].agent == s.agent && s.t-runs[n-1].t <= runGap {
			runs[n-1].up = runs[n-1].up && s.up
			continue
		}
		runs = append(runs, s)
	}
	slices.SortStableFunc(runs, func(a, b run) int { return int(a.t - b.t) })
	tl := &timeline{firstFailure: -1, firstDown: -1, recovered: -1, detected: -1, reasons: map[string]bool{}}
	// Down everywhere means every agent that probed the target under the
	// drill: one agent's first report is not yet the others' verdict.
	agents := map[string]bool{}
	for _, r := range runs {
		agents[r.agent] = true
	}
	latest := map[string]bool{}
	cur, curFrom := "", 0.0
	for _, r := range runs {
		latest[r.agent] = r.up
		down := 0
		for _, up := range latest {
			if !up {
				down++
			}
		}
		st := StateUp
		switch {
		case down == len(agents):
			st = StateDown
		case down > 0:
			st = StatePartial
		}
		at := secs(r.t, start)
		if st != StateUp && tl.firstFailure < 0 {
			tl.firstFailure = at
		}
		if st == StateDown && tl.firstDown < 0 {
			tl.firstDown = at
		}
		// Recovered is the start of the last stretch up after a failure:
		// a service that fails again has not recovered.
		switch {
		case st != StateUp:
			tl.recovered = -1
		case tl.firstFailure >= 0 && tl.recovered < 0:
			tl.recovered = at
		}
		if st != cur {
			if cur != "" {
				tl.segments = append(tl.segments, Segment{From: curFrom, To: at, State: cur})
			}
			cur, curFrom = st, at
		}
	}
	if cur != "" {
		tl.segments = append(tl.segments, Segment{From: curFrom, To: max(curFrom, secs(end, start)), State: cur})
	}
	tl.agents = len(agents)
	return tl
}
