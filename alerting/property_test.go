package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// episode is one firing of one target, from start to end (zero: firing).
type episode struct {
	start, end               time.Time
	toldFiring, toldResolved bool
}

// simReceiver records deliveries with the simulated time and the crash
// epoch; it can fail, or deliver and then "crash" before the log is written.
type simReceiver struct {
	mu        sync.Mutex
	c         *clock
	log       *crashLog
	fail      int  // the next sends fail (not retryable)
	crashNext bool // the next delivery is followed by a crash
	epoch     *int
	got       []delivery
}

type delivery struct {
	at    time.Time
	epoch int
	n     *Notification
}

func (r *simReceiver) Notify(_ context.Context, n *Notification) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return false, errors.New("receiver down")
	}
	r.got = append(r.got, delivery{at: r.c.t, epoch: *r.epoch, n: n})
	if r.crashNext {
		r.crashNext = false
		r.log.crashed.Store(true)
	}
	return false, nil
}

// Random sequences of fire, resolve, restart, receiver failure and crash
// between a send and its record, over several groups: afterwards every
// firing episode was told firing and told resolved (episodes of at least
// 20 minutes, 30 minutes apart), and no notification
// was told twice except after a crash (the same id, counted).
func TestDispatchProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("BULWARK_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	runs := 20
	if os.Getenv("BULWARK_SEED") != "" {
		runs = 1
	}
	for run := range runs {
		simulate(t, seed+uint64(run))
	}
}

func simulate(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	log := &crashLog{MemLog: &MemLog{}}
	epoch := 0
	rcv := &simReceiver{c: c, log: log, epoch: &epoch}
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("BULWARK_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	newD := func() *Dispatcher {
		d, err := NewDispatcher(DispatcherOptions{
			Routes: []Route{{Receiver: "duty", GroupBy: []string{"grp"}, GroupWait: configfile.Duration(30 * time.Second),
				GroupInterval: configfile.Duration(5 * time.Minute), RepeatInterval: configfile.Duration(48 * time.Hour)}},
			Receivers: map[string]Receiver{"duty": rcv}, Log: log, Now: c.now, RetryInitial: time.Microsecond, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := newD()
	const targets = 8
	eps := make([][]*episode, targets)
	startedAt := make([]time.Time, targets) // the alert's startsAt as the (restarted) rule manager says
	lbl := func(i int) labels.Labels {
		return labels.FromStrings("alertname", "Down", "grp", fmt.Sprint(i%3), "target", fmt.Sprint("t", i))
	}
	current := func(i int) *episode {
		if n := len(eps[i]); n > 0 {
			return eps[i][n-1]
		}
		return nil
	}
	restart := func() {
		log.crashed.Store(false)
		d = newD()
		for i := range targets {
			startedAt[i] = c.t // the rule manager starts afresh
		}
	}
	crashes, restarts := 0, 0
	var lastFail time.Time
	step := func(events bool) {
		if events {
			i := rng.IntN(targets)
			e := current(i)
			// An episode fires at least 20 minutes, and a target stays
			// resolved 30 minutes before it fires again: a flap inside the
			// group interval is one incident, as in Alertmanager.
			switch p := rng.Float64(); {
			case p < 0.15:
				if e == nil || !e.end.IsZero() && c.t.Sub(e.end) >= 30*time.Minute {
					eps[i] = append(eps[i], &episode{start: c.t})
					startedAt[i] = c.t
				}
			case p < 0.30:
				if e != nil && e.end.IsZero() && c.t.Sub(e.start) >= 20*time.Minute {
					e.end = c.t
				}
			case p < 0.33:
				logger.Debug("restart", "at", c.t.Format("15:04"))
				restart()
				restarts++
			case p < 0.36 && c.t.Sub(lastFail) >= 30*time.Minute: // an outage of two sends at most, then 30 minutes up
				lastFail = c.t
				rcv.mu.Lock()
				rcv.fail = 1 + rng.IntN(2)
				logger.Debug("receiver fails", "at", c.t.Format("15:04"), "times", rcv.fail)
				rcv.mu.Unlock()
			case p < 0.38:
				rcv.mu.Lock()
				rcv.crashNext = true
				rcv.mu.Unlock()
			}
		}
		// The rule manager sends every firing alert, and resolved ones for an hour.
		var alerts []*Alert
		for i := range targets {
			e := current(i)
			switch {
			case e == nil:
			case e.end.IsZero():
				alerts = append(alerts, &Alert{Labels: lbl(i), StartsAt: startedAt[i]})
			case c.t.Sub(e.end) < time.Hour:
				alerts = append(alerts, &Alert{Labels: lbl(i), StartsAt: startedAt[i], EndsAt: e.end})
			}
		}
		d.Add(alerts)
		d.FlushDue(context.Background())
		if log.crashed.Load() { // the process died after a send, before its record
			logger.Debug("crash", "at", c.t.Format("15:04"))
			crashes++
			epoch++
			restart()
		}
		c.advance(time.Minute)
	}
	for range 400 {
		step(true)
	}
	// Quiesce: the receiver heals, everything ages, resolves, is told.
	rcv.mu.Lock()
	rcv.fail, rcv.crashNext = 0, false
	rcv.mu.Unlock()
	for range 25 {
		step(false)
	}
	for i := range targets {
		if e := current(i); e != nil && e.end.IsZero() {
			e.end = c.t
		}
	}
	for range 60 {
		step(false)
	}

	// Check what was told.
	seen := map[string]delivery{}
	dups := 0
	for _, dl := range rcv.got {
		if prev, ok := seen[dl.n.ID]; ok {
			if prev.epoch == dl.epoch {
				t.Fatalf("seed %d: notification %s told twice at %s and %s without a crash between", seed, dl.n.ID, prev.at, dl.at)
			}
			dups++
		}
		seen[dl.n.ID] = dl
		for _, a := range dl.n.Alerts {
			var i int
			fmt.Sscanf(a.Labels.Get("target"), "t%d", &i)
			for _, e := range eps[i] {
				if !a.Resolved() && !dl.at.Before(e.start) && (e.end.IsZero() || !dl.at.After(e.end)) {
					e.toldFiring = true
				}
			}
			if a.Resolved() { // the last episode ended before it was told
				for k := len(eps[i]) - 1; k >= 0; k-- {
					if e := eps[i][k]; !e.end.IsZero() && !dl.at.Before(e.end) {
						e.toldResolved = true
						break
					}
				}
			}
		}
	}
	// A crash loses the records of every group flushed in its cycle: each
	// of them may be told again, with the same id.
	if dups > crashes*3 {
		t.Fatalf("seed %d: %d notifications told twice, %d crashes", seed, dups, crashes)
	}
	for i := range targets {
		for _, e := range eps[i] {
			if !e.toldFiring || !e.toldResolved {
				for _, dl := range rcv.got {
					if dl.n.GroupLabels["grp"] != fmt.Sprint(i%3) {
						continue
					}
					var s []string
					for _, a := range dl.n.Alerts {
						s = append(s, fmt.Sprintf("%s:%v", a.Labels.Get("target"), a.Resolved()))
					}
					t.Logf("%s %s %s %v", dl.at.Format("15:04"), dl.n.ID, dl.n.Status, s)
				}
				for j := i % 3; j < targets; j += 3 {
					for _, e := range eps[j] {
						t.Logf("t%d %s-%s", j, e.start.Format("15:04"), e.end.Format("15:04"))
					}
				}
				t.Fatalf("seed %d: target t%d episode %s-%s told firing %v, resolved %v (%d restarts, %d crashes)",
					seed, i, e.start.Format("15:04"), e.end.Format("15:04"), e.toldFiring, e.toldResolved, restarts, crashes)
			}
		}
	}
	t.Logf("seed %d: %d notifications, %d restarts, %d crashes, %d told again after a crash", seed, len(rcv.got), restarts, crashes, dups)
}
