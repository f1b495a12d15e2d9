package ingest

import (
	"math/rand/v2"
	"testing"
	"time"
)

// agentLimits over random sequences of requests entering and leaving,
// new and known series of random sizes, and clock steps (a collector
// restart is a fresh agentLimits): one agent never has more than
// MaxRequestsPerAgent handled at once, a known series is always taken,
// the series count stays within MaxSeriesPerAgent, and the bytes of new
// series taken never exceed the burst plus the rate for the time passed.
func TestAgentLimitsProperties(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for run := range 50 {
		l := Limits{MaxRequestsPerAgent: 1 + rng.IntN(5), MaxSeriesPerAgent: 1 + rng.IntN(300),
			NewSeriesBytesPerMinute: 1000 + rng.IntN(10_000), MaxSeriesLabelsBytes: 500}.withDefaults()
		now := time.Unix(1_800_000_000, 0)
		al := newAgentLimits(l, func() time.Time { return now })
		start := now
		inflight, taken := 0, 0
		known := map[uint64]bool{}
		for step := range 2000 {
			switch op := rng.IntN(10); {
			case op < 2:
				if al.enter("a") {
					inflight++
				} else if inflight < l.MaxRequestsPerAgent {
					t.Fatalf("run %d step %d: refused with %d of %d in flight", run, step, inflight, l.MaxRequestsPerAgent)
				}
				if inflight > l.MaxRequestsPerAgent {
					t.Fatalf("run %d step %d: %d requests in flight, limit %d", run, step, inflight, l.MaxRequestsPerAgent)
				}
			case op < 4:
				if inflight > 0 {
					al.leave("a")
					inflight--
				}
			case op < 5:
				now = now.Add(time.Duration(rng.IntN(20_000)) * time.Millisecond)
			case op < 6 && len(known) > 0:
				for k := range known {
					if ok, _ := al.series("a", k, 100); !ok && now.Sub(start) < time.Hour {
						t.Fatalf("run %d step %d: a known series was refused", run, step)
					}
					break
				}
			default:
				k, size := rng.Uint64(), 1+rng.IntN(l.MaxSeriesLabelsBytes)
				ok, wait := al.series("a", k, size)
				if ok {
					known[k] = true
					taken += size
				} else if wait < 0 {
					t.Fatalf("run %d step %d: negative wait", run, step)
				}
			}
			st := al.agents["a"]
			if st != nil && len(st.cur)+len(st.prev) > l.MaxSeriesPerAgent {
				t.Fatalf("run %d step %d: %d series, limit %d", run, step, len(st.cur)+len(st.prev), l.MaxSeriesPerAgent)
			}
			allowed := float64(newSeriesBurstMinutes*l.NewSeriesBytesPerMinute) + now.Sub(start).Minutes()*float64(l.NewSeriesBytesPerMinute)
			if float64(taken) > allowed+1 {
				t.Fatalf("run %d step %d: %d bytes of new series taken in %s, over %.0f", run, step, taken, now.Sub(start), allowed)
			}
		}
		for range inflight {
			al.leave("a")
		}
		if al.agents["a"] != nil && al.agents["a"].inflight != 0 {
			t.Fatalf("run %d: %d requests left in flight", run, al.agents["a"].inflight)
		}
	}
}
