package alerting

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// onceClaims grants each item once, as the shared state does.
type onceClaims struct {
	mu    sync.Mutex
	taken map[string]bool
}

func (c *onceClaims) Claim(_ context.Context, item, _ string, _ time.Duration) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.taken[item] {
		return false, false
	}
	c.taken[item] = true
	return true, false
}

func (c *onceClaims) Settle(_ context.Context, item string, sent bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !sent {
		delete(c.taken, item)
	}
}

// pairDispatcher is one of two collectors sharing a log and claims.
func pairDispatcher(t *testing.T, rcv Receiver, log Log, claims Claims, c *clock) *Dispatcher {
	t.Helper()
	d, err := NewDispatcher(DispatcherOptions{
		Routes: []Route{{Receiver: "duty", GroupBy: []string{"target"}, GroupWait: configfile.Duration(time.Millisecond),
			GroupInterval: configfile.Duration(time.Second), RepeatInterval: configfile.Duration(4 * time.Hour)}},
		Receivers: map[string]Receiver{"duty": rcv}, Log: log, Claims: claims, Now: c.now, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Two dispatchers sharing a log and claims, flushing the same state at
// once, send it once; the second sees it told.
func TestClaimsOneSenderOfTwo(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	rcv, log, claims := &recorder{}, &MemLog{}, &onceClaims{taken: map[string]bool{}}
	a, b := pairDispatcher(t, rcv, log, claims, c), pairDispatcher(t, rcv, log, claims, c)
	ctx := context.Background()
	al := down("svc", c.t)
	a.Add([]*Alert{al})
	b.Add([]*Alert{al})
	c.advance(time.Millisecond)
	var wg sync.WaitGroup
	for _, d := range []*Dispatcher{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); d.FlushDue(ctx) }()
	}
	wg.Wait()
	c.advance(2 * time.Second)
	a.FlushDue(ctx)
	b.FlushDue(ctx)
	if rcv.count() != 1 {
		t.Fatalf("%d firing notifications from the pair, want 1", rcv.count())
	}
	res := *al
	res.EndsAt = c.t
	a.Add([]*Alert{&res})
	b.Add([]*Alert{&res})
	c.advance(2 * time.Second)
	a.FlushDue(ctx)
	b.FlushDue(ctx)
	c.advance(2 * time.Second)
	a.FlushDue(ctx)
	b.FlushDue(ctx)
	if rcv.count() != 2 || rcv.got[1].Status != "resolved" {
		t.Fatalf("%d notifications, want the firing and one resolved", rcv.count())
	}
}

// A collector whose rules are behind holds only the resolved alert of an
// earlier episode while another collector has told a new incident of the
// same group: it neither tells that incident resolved nor closes it.
func TestStaleResolutionKeepsTheIncidentOpen(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	rcv, log, claims := &recorder{}, &MemLog{}, &onceClaims{taken: map[string]bool{}}
	a, b := pairDispatcher(t, rcv, log, claims, c), pairDispatcher(t, rcv, log, claims, c)
	ctx := context.Background()
	old := down("svc", c.t.Add(-time.Minute))
	old.EndsAt = c.t.Add(-30 * time.Second)
	// a tells the new episode; b still holds the old one's resolution.
	a.Add([]*Alert{down("svc", c.t)})
	c.advance(time.Millisecond)
	a.FlushDue(ctx)
	b.Add([]*Alert{old})
	c.advance(2 * time.Second)
	b.FlushDue(ctx)
	e, _, _ := log.Get(ctx, "duty", a.Incidents()[0].GroupKey)
	if rcv.count() != 1 || rcv.got[0].Status != "firing" || !e.open() {
		for _, n := range rcv.got {
			t.Log(n.Status, n.ID)
		}
		t.Fatalf("%d notifications (want the firing alone), incident open %v", rcv.count(), e.open())
	}
}
