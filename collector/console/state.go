package console

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// lookback is how far back the newest result of a series is looked for,
// as the PromQL engine's default look-back. Whether a result is current
// is decided per target against its probe interval (staleGrace).
const lookback = 5 * time.Minute

// staleGrace is the delay a result may take from the agent's probe to
// the collector (its push interval) before it counts as older than its
// probe interval.
const staleGrace = 15 * time.Second

// sample is the newest value of one series.
type sample struct {
	ls labels.Labels
	t  int64 // ms
	v  float64
}

// latest reads the newest sample of each series matching ms within the
// look-back before ts; a series ended by a staleness marker is left out,
// and so is one with a drill label when production is set (filtered here:
// a drill="" matcher makes the index subtract from every series).
func (c *Console) latest(ctx context.Context, ts time.Time, production bool, ms ...*labels.Matcher) ([]sample, error) {
	maxt := ts.UnixMilli()
	q, err := c.opts.Queryable.Querier(ts.Add(-lookback).UnixMilli(), maxt)
	if err != nil {
		return nil, fmt.Errorf("open querier: %w", err)
	}
	defer q.Close()
	set := q.Select(ctx, false, nil, ms...)
	var out []sample
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		if production && s.Labels().Get("drill") != "" {
			continue
		}
		it = s.Iterator(it)
		var last sample
		ok := false
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, v := it.At()
			if t > maxt {
				break
			}
			if value.IsStaleNaN(v) {
				ok = false
				continue
			}
			last, ok = sample{t: t, v: v}, true
		}
		if ok {
			last.ls = s.Labels()
			out = append(out, last)
		}
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("select %v: %w", ms, err)
	}
	return out, nil
}

// rank orders classifications worst first: down everywhere, down from one
// side, degraded, no data, up, unlisted.
func rank(state string) int {
	switch state {
	case "down-everywhere":
		return 0
	case "down-from-abroad-only", "down-from-home-only":
		return 1
	case "down-on-one-vantage", "partial":
		return 2
	case "no-data":
		return 3
	case "up":
		return 4
	}
	return 5
}

// worstFirst orders services by rank, then criticality (1 first, unset
// last), then name.
func worstFirst(a, b *Service) int {
	crit := func(s *Service) int {
		if s.Criticality <= 0 {
			return 9
		}
		return s.Criticality
	}
	return cmp.Or(cmp.Compare(rank(a.State), rank(b.State)), cmp.Compare(crit(a), crit(b)), cmp.Compare(a.Target, b.Target))
}

// intervals gives each listed target's probe interval.
func (c *Console) intervals(ts time.Time, targets []target.Target) map[string]time.Duration {
	out := make(map[string]time.Duration, len(targets))
	bySpec := map[string]time.Duration{}
	for _, t := range targets {
		iv := c.opts.DefaultInterval
		if t.Schedule != "" {
			d, seen := bySpec[t.Schedule]
			if !seen {
				if s, err := target.ParseSchedule(t.Schedule); err == nil {
					next := s.Next(ts)
					d = s.Next(next).Sub(next)
				}
				bySpec[t.Schedule] = d
			}
			if d > 0 {
				iv = d
			}
		}
		out[t.ID] = iv
	}
	return out
}

// collect builds every service's state at ts from the series of drill
// ("" for production: series without a drill label; a drill's own series
// never count there). The classification is the vantage quorum's, as the
// API and the alerts give it: its stored series when alerting writes it,
// the same classifier over the current results otherwise.
func (c *Console) collect(ctx context.Context, ts time.Time, drill string) ([]*Service, error) {
	eq := func(n, v string) *labels.Matcher { return labels.MustNewMatcher(labels.MatchEqual, n, v) }
	read := func(ms ...*labels.Matcher) ([]sample, error) {
		if drill == "" {
			return c.latest(ctx, ts, true, ms...)
		}
		return c.latest(ctx, ts, false, append(ms, eq("drill", drill))...)
	}
	succ, err := read(eq("__name__", "probe_success"), labels.MustNewMatcher(labels.MatchNotEqual, "check", "deps"))
	if err != nil {
		return nil, err
	}
	var more [5][]sample
	for i, name := range []string{"probe_duration_seconds", "probe_http_status_code", "probe_ssl_earliest_cert_expiry", "probe_failure_info", rule.AvailabilityMetric} {
		if more[i], err = read(eq("__name__", name)); err != nil {
			return nil, err
		}
	}
	dur, status, expiry, reasons, avail := more[0], more[1], more[2], more[3], more[4]
	var targets []target.Target
	if c.opts.Targets != nil {
		targets = c.opts.Targets()
	}
	ivs := c.intervals(ts, targets)
	now := ts.UnixMilli()
	runKey := func(ls labels.Labels) string {
		return ls.Get("target") + "\x00" + ls.Get("agent") + "\x00" + ls.Get("check")
	}
	runs := make(map[string]sample, len(succ)) // the newest run of each check
	for _, s := range succ {
		runs[runKey(s.ls)] = s
	}
	// current is the value of s if it came from the newest run of its check.
	current := func(s sample, check string) bool {
		k := s.ls.Get("target") + "\x00" + s.ls.Get("agent") + "\x00" + cmp.Or(s.ls.Get("check"), check)
		r, ok := runs[k]
		return ok && s.t >= r.t
	}
	byTarget := map[string]*Service{}
	checkAt := map[string]int{} // target, agent: index in its service's Checks
	for _, s := range succ {
		tgt, agent := s.ls.Get("target"), s.ls.Get("agent")
		svc := byTarget[tgt]
		if svc == nil {
			svc = &Service{Target: tgt, Sector: s.ls.Get("sector")}
			byTarget[tgt] = svc
		}
		k := tgt + "\x00" + agent
		i, ok := checkAt[k]
		if !ok {
			i = len(svc.Checks)
			checkAt[k] = i
			svc.Checks = append(svc.Checks, Check{Vantage: s.ls.Get("vantage"), Agent: agent, Up: true, at: s.t})
		}
		ch := &svc.Checks[i]
		ch.at = min(ch.at, s.t) // the oldest of its checks' newest runs
		if s.v != 1 {
			ch.Up = false
		}
	}
	find := func(s sample) *Check {
		i, ok := checkAt[s.ls.Get("target")+"\x00"+s.ls.Get("agent")]
		if !ok {
			return nil
		}
		return &byTarget[s.ls.Get("target")].Checks[i]
	}
	for _, s := range dur {
		if ch := find(s); ch != nil && s.ls.Get("check") == "http" && current(s, "http") {
			ch.Latency = s.v
		}
	}
	for _, s := range status {
		if ch := find(s); ch != nil && current(s, "http") {
			ch.Status = int(s.v)
		}
	}
	for _, s := range expiry {
		if ch := find(s); ch != nil && current(s, "tls") {
			ch.CertDays = time.Unix(int64(s.v), 0).Sub(ts).Hours() / 24
		}
	}
	for _, s := range reasons {
		if ch := find(s); ch != nil && !ch.Up && current(s, "") {
			ch.Reason = cmp.Or(ch.Reason, s.ls.Get("reason"))
		}
	}
	classOf := map[string]string{}
	for _, s := range avail {
		classOf[s.ls.Get("target")] = s.ls.Get("classification")
	}
	listed := map[string]bool{}
	for _, t := range targets {
		listed[t.ID] = true
		svc := byTarget[t.ID]
		if svc == nil {
			svc = &Service{Target: t.ID, Sector: t.Sector}
			byTarget[t.ID] = svc
		}
		svc.Sector, svc.Criticality = t.Sector, t.Criticality
	}
	out := make([]*Service, 0, len(byTarget))
	for _, svc := range byTarget {
		iv, ok := ivs[svc.Target]
		if !ok {
			iv = c.opts.DefaultInterval
		}
		votes, vant := map[string]float64{}, map[string]string{}
		for i := range svc.Checks {
			ch := &svc.Checks[i]
			ch.Age = time.Duration(now-ch.at) * time.Millisecond
			if ch.Age > iv+staleGrace {
				// Older than its probe interval: shown as stale, its values
				// not as current, and no vote (two intervals: no data).
				ch.Stale, ch.Latency, ch.Status, ch.CertDays, ch.Reason = true, 0, 0, 0, ""
				continue
			}
			votes[ch.Agent], vant[ch.Agent] = 0, ch.Vantage
			if ch.Up {
				votes[ch.Agent] = 1
			}
		}
		slices.SortFunc(svc.Checks, func(a, b Check) int { return cmp.Compare(a.Vantage+a.Agent, b.Vantage+b.Agent) })
		switch class, stored := classOf[svc.Target]; {
		case drill == "" && c.opts.Targets != nil && !listed[svc.Target]:
			svc.State = "unlisted"
		case stored:
			svc.State = class
		default:
			svc.State = c.opts.Classify(votes, vant)
		}
		out = append(out, svc)
	}
	slices.SortFunc(out, worstFirst)
	return out, nil
}
