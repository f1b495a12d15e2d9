package rule

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// AvailabilityMetric is the series the vantage quorum writes before each
// evaluation of the built-in group: one per target, labelled with its
// classification, valued with the number of agents behind it.
//
//	up                     every agent voting says up (value: agents voting)
//	down-everywhere        every agent voting says down, with the quorum
//	down-from-abroad-only  every agent abroad says down, every one at home up (value: abroad agents down)
//	down-from-home-only    the reverse (value: home agents down)
//	down-on-one-vantage    one agent says down while a peer on its side says up (labels agent, vantage; value 1)
//	partial                some agents say down, in no pattern above (value: agents down)
//	no-data                no agent reported the target for two of its intervals (value 0)
//
// The built-in alerts select on it; Grafana and the console can too.
const AvailabilityMetric = "bulwark_target_availability"

// availabilityChecks are the checks whose success is a service's
// availability, as internal/target's kinds table says.
var availabilityChecks = target.AvailabilityKinds()

// lookback is how far back a target's last report is looked for, as the
// PromQL engine's default look-back.
const lookback = 5 * time.Minute

// targetVotes is what the agents said of one target.
type targetVotes struct {
	target string
	drill  string // "" for production
	sector string
	last   int64              // newest report of any check but deps, ms
	votes  map[string]float64 // agent: 1 up, 0 down (worst of its checks)
	vant   map[string]string  // agent: vantage
}

// writeAvailability tallies each agent's newest availability result on
// every target (within the vote window; a silent agent does not vote)
// and writes AvailabilityMetric at ts. Series of an earlier
// classification are ended with a staleness marker, as Prometheus ends
// those of a recording rule, so an outage that is over stops matching at
// once.
//
// No-data counts from when a target could first have reported: its first
// sight by this manager (the collector's start, or the reload that added
// it), not from the epoch.
//
// With only set, it re-tallies those targets alone (results just arrived
// for them) and leaves the others' series as they are.
func (m *Manager) writeAvailability(ctx context.Context, ts time.Time, only map[string]struct{}) error {
	m.availMu.Lock()
	defer m.availMu.Unlock()
	b := m.opts.Builtin.WithDefaults()
	now := ts.UnixMilli()
	voteFrom := ts.Add(-time.Duration(b.VoteWindow)).UnixMilli()
	maxt := now
	if only != nil {
		maxt = ts.Add(time.Minute).UnixMilli() // to see results stamped after ts
	}
	q, err := m.opts.Storage.Querier(ts.Add(-lookback).UnixMilli(), maxt)
	if err != nil {
		return err
	}
	defer q.Close()
	var later []string // arrived, stamped after ts: tallied again next time
	matchers := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "probe_success"),
		labels.MustNewMatcher(labels.MatchNotEqual, "check", target.Deps)}
	if only != nil {
		alts := make([]string, 0, len(only))
		for id := range only {
			alts = append(alts, regexp.QuoteMeta(id))
		}
		slices.Sort(alts)
		mt, err := labels.NewMatcher(labels.MatchRegexp, "target", strings.Join(alts, "|"))
		if err != nil {
			return fmt.Errorf("select arrived targets: %w", err)
		}
		matchers = append(matchers, mt)
	}
	set := q.Select(ctx, false, nil, matchers...)
	byTarget := map[string]*targetVotes{}
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		t, v, ok, after := lastSample(s.Iterator(it), now)
		it = nil
		if after && only != nil {
			later = append(later, s.Labels().Get("target"))
		}
		if !ok {
			continue
		}
		ls := s.Labels()
		// A drill's results are tallied apart from production, into
		// series labelled with the drill: the same rules fire for them,
		// and the alerts carry the drill label to the drill route.
		id, drill := ls.Get("target"), ls.Get("drill")
		tv := byTarget[id+"\x00"+drill]
		if tv == nil {
			tv = &targetVotes{target: id, drill: drill, sector: ls.Get("sector"), votes: map[string]float64{}, vant: map[string]string{}}
			byTarget[id+"\x00"+drill] = tv
		}
		tv.last = max(tv.last, t)
		if t < voteFrom || !slices.Contains(availabilityChecks, ls.Get("check")) {
			continue
		}
		agent := ls.Get("agent")
		if old, seen := tv.votes[agent]; !seen || v < old {
			tv.votes[agent] = min(v, 1)
		}
		tv.vant[agent] = ls.Get("vantage")
	}
	if err := set.Err(); err != nil {
		return fmt.Errorf("read votes: %w", err)
	}
	// Two groups tally (the built-in one all targets, the availability
	// one those with new results): samples are written in order.
	wts := now
	if wts <= m.availLast {
		wts = m.availLast + 1
	}
	app := m.opts.Storage.Appender(ctx)
	written := make(map[uint64]labels.Labels, len(byTarget))
	put := func(ls labels.Labels, v float64) error {
		written[ls.Hash()] = ls
		_, err := app.Append(0, ls, wts, v)
		return err
	}
	firstSeen := make(map[string]int64, len(m.firstSeen))
	for _, ti := range m.opts.Targets() {
		first, seen := m.firstSeen[ti.ID]
		if !seen {
			first = now
		}
		firstSeen[ti.ID] = first
		if _, touched := only[ti.ID]; only != nil && !touched {
			continue
		}
		tv := byTarget[ti.ID+"\x00"]
		from := first
		if tv != nil {
			from = max(from, tv.last)
		}
		if ti.Interval <= 0 || now-from <= 2*ti.Interval.Milliseconds() {
			continue
		}
		if err := put(labels.FromStrings(model.MetricNameLabel, AvailabilityMetric, "target", ti.ID, "sector", ti.Sector, "classification", "no-data"), 0); err != nil {
			app.Rollback()
			return err
		}
		delete(byTarget, ti.ID+"\x00") // old votes do not outweigh the silence
	}
	for _, tv := range byTarget {
		if len(tv.votes) == 0 {
			continue // reports, but no availability check within the vote window
		}
		class, v, agent := b.classify(tv)
		kv := []string{model.MetricNameLabel, AvailabilityMetric, "target", tv.target, "sector", tv.sector, "classification", class}
		if agent != "" {
			kv = append(kv, "agent", agent, "vantage", tv.vant[agent])
		}
		if tv.drill != "" {
			kv = append(kv, "drill", tv.drill)
		}
		if err := put(labels.FromStrings(kv...), v); err != nil {
			app.Rollback()
			return err
		}
	}
	if only == nil {
		m.firstSeen = firstSeen // targets no longer configured are forgotten
	}
	if m.availPrev == nil {
		m.availPrev = m.readAvailability(ctx, ts)
	}
	kept := make(map[uint64]labels.Labels, len(m.availPrev))
	for h, ls := range m.availPrev {
		if _, touched := only[ls.Get("target")]; only != nil && !touched {
			kept[h] = ls // not re-tallied: stands
			continue
		}
		if _, still := written[h]; !still {
			if _, err := app.Append(0, ls, wts, math.Float64frombits(value.StaleNaN)); err != nil {
				app.Rollback()
				return err
			}
		}
	}
	if err := app.Commit(); err != nil {
		return err
	}
	maps.Copy(kept, written)
	m.availPrev = kept
	m.availLast = wts
	m.Arrived(later)
	return nil
}

// classify applies the vantage quorum to one target's votes: its
// classification, the number of agents behind it, and the lone agent of
// down-on-one-vantage.
func (b Builtin) classify(tv *targetVotes) (class string, n float64, agent string) {
	var dh, uh, da, ua int
	lone := ""
	for a, v := range tv.votes {
		home := slices.Contains(b.HomeVantages, tv.vant[a])
		switch {
		case v < 1 && home:
			dh++
			lone = a
		case v < 1:
			da++
			lone = a
		case home:
			uh++
		default:
			ua++
		}
	}
	all, down := dh+uh+da+ua, dh+da
	switch {
	case down == 0:
		return "up", float64(all), ""
	case down == all && down >= min(all, b.QuorumAgents) && float64(down) >= float64(all)*b.QuorumShare:
		return "down-everywhere", float64(down), ""
	case da >= 1 && ua == 0 && dh == 0 && uh >= 1:
		return "down-from-abroad-only", float64(da), ""
	case dh >= 1 && uh == 0 && da == 0 && ua >= 1:
		return "down-from-home-only", float64(dh), ""
	case down == 1 && (dh == 1 && uh >= 1 || da == 1 && ua >= 1):
		return "down-on-one-vantage", 1, lone
	}
	return "partial", float64(down), ""
}

// lastSample is the newest float sample at or before maxt that is not a
// staleness marker; after says there is a sample past maxt.
func lastSample(it chunkenc.Iterator, maxt int64) (t int64, v float64, ok, after bool) {
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		if vt != chunkenc.ValFloat {
			continue
		}
		st, sv := it.At()
		if st > maxt {
			return t, v, ok, true
		}
		if !value.IsStaleNaN(sv) {
			t, v, ok = st, sv, true
		}
	}
	return t, v, ok, false
}

// readAvailability finds the availability series written before a
// restart, so that those no longer true are ended too.
func (m *Manager) readAvailability(ctx context.Context, ts time.Time) map[uint64]labels.Labels {
	out := map[uint64]labels.Labels{}
	q, err := m.opts.Storage.Querier(ts.Add(-lookback).UnixMilli(), ts.UnixMilli())
	if err != nil {
		return out
	}
	defer q.Close()
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, AvailabilityMetric))
	for set.Next() {
		ls := set.At().Labels()
		out[ls.Hash()] = ls
	}
	return out
}

// Classify is the vantage quorum's classification of one target from its
// agents' votes (agent: 1 up, 0 down) and their vantages: the class the
// built-in rules write as AvailabilityMetric. The console uses it where
// no such series is stored (alerting off), so both say the same.
func (b Builtin) Classify(votes map[string]float64, vantages map[string]string) string {
	if len(votes) == 0 {
		return "no-data"
	}
	class, _, _ := b.classify(&targetVotes{votes: votes, vant: vantages})
	return class
}
