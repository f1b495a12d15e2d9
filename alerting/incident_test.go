package alerting

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwarkhq/bulwark/alerting/notify"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// gate is a receiver whose sends block until released (or their context
// ends, if honour); it records what it delivered.
type gate struct {
	recorder
	entered chan struct{}
	release chan struct{}
	honour  bool
}

func newGate(honour bool) *gate {
	return &gate{entered: make(chan struct{}, 16), release: make(chan struct{}), honour: honour}
}

func (g *gate) Notify(ctx context.Context, n *Notification) (bool, error) {
	g.entered <- struct{}{}
	done := ctx.Done()
	if !g.honour {
		done = nil
	}
	select {
	case <-g.release:
	case <-done:
		return true, ctx.Err()
	}
	return g.recorder.Notify(ctx, n)
}

// Fire, resolve while the first notification is being sent, fire again
// 30 minutes later: three notifications (firing, resolved, firing), the
// resolution not lost and the re-fire not taken for the old incident.
func TestResolveDuringSend(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := newGate(true)
	d := newTestDispatcher(t, rcv, &MemLog{}, c, nil)
	ctx := context.Background()
	a := down("portal", c.t)
	d.Add([]*Alert{a})
	c.advance(time.Minute)
	done := make(chan struct{})
	go func() { d.FlushDue(ctx); close(done) }()
	<-rcv.entered // the send blocks: the alert resolves meanwhile
	d.Add([]*Alert{{Labels: a.Labels, StartsAt: a.StartsAt, EndsAt: c.t}})
	close(rcv.release)
	<-done
	c.advance(5 * time.Minute)
	d.FlushDue(ctx)
	c.advance(30 * time.Minute)
	d.Add([]*Alert{down("portal", c.t)})
	c.advance(time.Minute)
	d.FlushDue(ctx)
	var got []string
	for _, n := range rcv.got {
		got = append(got, n.Status)
	}
	if len(got) != 3 || got[0] != "firing" || got[1] != "resolved" || got[2] != "firing" {
		t.Fatalf("notifications %v, want [firing resolved firing]", got)
	}
	if rcv.got[0].Incident == "" || rcv.got[2].Incident == rcv.got[0].Incident {
		t.Fatalf("incidents %q and %q: the re-fire must be a new incident", rcv.got[0].Incident, rcv.got[2].Incident)
	}
}

// An acknowledgement ends with its incident: the next incident of the same
// group is repeated and escalated as if nobody had taken it.
func TestAckEndsWithIncident(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	duty, boss := &recorder{}, &recorder{}
	sl, _ := NewSilencer(ctx, &MemSilenceStore{}, c.now)
	d, err := NewDispatcher(DispatcherOptions{
		Routes: []Route{{Receiver: "duty", GroupBy: []string{"classification"}, RepeatInterval: configfile.Duration(time.Hour),
			EscalateTo: "boss", EscalateAfter: configfile.Duration(15 * time.Minute)}},
		Receivers: map[string]Receiver{"duty": duty, "boss": boss}, Log: &MemLog{}, Silencer: sl, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	a := down("portal", c.t)
	d.Add([]*Alert{a})
	c.advance(time.Minute)
	d.FlushDue(ctx)
	key := d.Incidents()[0].GroupKey
	if _, err := sl.Acknowledge(ctx, key, "otto", "on it", true); err != nil {
		t.Fatal(err)
	}
	for range 4 { // 20 minutes, acknowledged: no repeat, no escalation
		c.advance(5 * time.Minute)
		d.FlushDue(ctx)
	}
	if duty.count() != 1 || boss.count() != 0 {
		t.Fatalf("acknowledged incident: %d to duty, %d to boss", duty.count(), boss.count())
	}
	d.Add([]*Alert{{Labels: a.Labels, StartsAt: a.StartsAt, EndsAt: c.t}})
	c.advance(5 * time.Minute)
	d.FlushDue(ctx)
	if duty.count() != 2 || sl.Acked(key) != nil {
		t.Fatalf("after resolution: %d to duty, ack %+v", duty.count(), sl.Acked(key))
	}
	// A week later, the same group fires again: a new, unacknowledged incident.
	c.advance(7 * 24 * time.Hour)
	d.Add([]*Alert{down("portal", c.t)})
	c.advance(time.Minute)
	d.FlushDue(ctx)
	for range 12 { // an hour
		c.advance(5 * time.Minute)
		d.FlushDue(ctx)
	}
	if duty.count() != 4 || boss.count() != 1 {
		t.Fatalf("second incident: %d to duty (want first + repeat), %d to boss (want 1)", duty.count()-2, boss.count())
	}
	if in := d.Incidents(); len(in) != 1 || in[0].Ack != nil {
		t.Fatalf("second incident born acknowledged: %+v", in)
	}
}

// An ack given before a restart, whose incident resolved while the
// collector was down (the group ended untold), does not cover the next one.
func TestAckOfEarlierIncidentIgnored(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	sl, _ := NewSilencer(ctx, &MemSilenceStore{}, c.now)
	rcv := &recorder{}
	d, _ := NewDispatcher(DispatcherOptions{Routes: []Route{{Receiver: "duty", GroupBy: []string{"classification"}}},
		Receivers: map[string]Receiver{"duty": rcv}, Log: &MemLog{}, Silencer: sl, Now: c.now})
	d.Add([]*Alert{down("portal", c.t)})
	key := d.Incidents()[0].GroupKey
	sl.Acknowledge(ctx, key, "otto", "stale", true)
	c.advance(24 * time.Hour)
	d2, _ := NewDispatcher(DispatcherOptions{Routes: []Route{{Receiver: "duty", GroupBy: []string{"classification"}}},
		Receivers: map[string]Receiver{"duty": rcv}, Log: &MemLog{}, Silencer: sl, Now: c.now})
	d2.Add([]*Alert{down("portal", c.t)})
	c.advance(time.Minute)
	d2.FlushDue(ctx)
	if rcv.count() != 1 || rcv.got[0].Ack != nil || sl.Acked(key) != nil {
		t.Fatalf("a day-old ack covered a new incident: %d sent, ack %+v", rcv.count(), sl.Acked(key))
	}
}

// threader is a receiver that threads: it returns a new thread for a
// message without one.
type threader struct {
	recorder
	threads []string
}

func (r *threader) NotifyThread(ctx context.Context, n *Notification) (string, bool, error) {
	r.mu.Lock()
	r.threads = append(r.threads, n.Thread)
	r.mu.Unlock()
	if _, err := r.Notify(ctx, n); err != nil {
		return "", true, err
	}
	if n.Thread != "" {
		return n.Thread, false, nil
	}
	return "ts-" + n.ID, false, nil
}

// A new incident starts a new message: its first notification carries no
// thread of the last (already edited to "resolved").
func TestNewIncidentNewThread(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := &threader{}
	d := newTestDispatcher(t, rcv, &MemLog{}, c, nil)
	ctx := context.Background()
	for range 2 {
		a := down("portal", c.t)
		d.Add([]*Alert{a, down("web", c.t)})
		c.advance(time.Minute)
		d.FlushDue(ctx)
		d.Add([]*Alert{{Labels: a.Labels, StartsAt: a.StartsAt, EndsAt: c.t}}) // one resolves: a reply
		c.advance(5 * time.Minute)
		d.FlushDue(ctx)
		d.Add([]*Alert{{Labels: down("web", c.t).Labels, StartsAt: a.StartsAt, EndsAt: c.t}})
		c.advance(5 * time.Minute)
		d.FlushDue(ctx)
		c.advance(time.Hour)
	}
	if len(rcv.threads) != 6 || rcv.threads[0] != "" || rcv.threads[1] == "" || rcv.threads[2] != rcv.threads[1] ||
		rcv.threads[3] != "" || rcv.threads[4] == "" || rcv.threads[4] == rcv.threads[1] {
		t.Fatalf("threads given %q: each incident's first message must start a new thread", rcv.threads)
	}
}

// A receiver that hangs forever holds only its own groups: another
// receiver's incident is delivered at its group_wait; the hung send is
// given up at its deadline (the group interval) and its fallback told.
func TestHungReceiverDoesNotHoldOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hung, mail, duty := newGate(true), &recorder{}, &recorder{}
		d, err := NewDispatcher(DispatcherOptions{
			Routes: []Route{
				{Receiver: "hung", Fallback: "mail", Match: map[string]string{"target": "portal"}, GroupBy: []string{"target"},
					GroupWait: configfile.Duration(10 * time.Second), GroupInterval: configfile.Duration(5 * time.Minute)},
				{Receiver: "duty", GroupBy: []string{"target"}, GroupWait: configfile.Duration(10 * time.Second)}},
			Receivers: map[string]Receiver{"hung": hung, "duty": duty, "mail": mail}, Log: &MemLog{}, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go d.Run(ctx)
		start := time.Now()
		d.Add([]*Alert{down("portal", start)})
		time.Sleep(5 * time.Second)
		d.Add([]*Alert{down("web", time.Now())})
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if duty.count() != 1 {
			t.Fatalf("web's incident: %d delivered while portal's receiver hangs", duty.count())
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if mail.count() != 1 {
			t.Fatalf("the hung send was not given up at its deadline: fallback told %d times", mail.count())
		}
		cancel()
		synctest.Wait()
	})
}

// A receiver that ignores its deadline wedges its flush: the dispatcher
// says it is stuck, and the heartbeat stops.
func TestStuckStopsHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wedged := newGate(false)
		d, err := NewDispatcher(DispatcherOptions{
			Routes:    []Route{{Receiver: "wedged", GroupBy: []string{"target"}, GroupWait: configfile.Duration(time.Second)}},
			Receivers: map[string]Receiver{"wedged": wedged}, Log: &MemLog{}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go d.Run(ctx)
		var mu sync.Mutex
		beats := 0
		h := &Heartbeat{Interval: time.Minute, Alive: func() bool { return d.Healthy() == nil }}
		h.beat = func(context.Context) error { mu.Lock(); beats++; mu.Unlock(); return nil }
		go h.Run(ctx)
		d.Add([]*Alert{down("portal", time.Now())})
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if err := d.Healthy(); err != nil {
			t.Fatalf("healthy within its deadlines: %v", err)
		}
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		if err := d.Healthy(); !errors.Is(err, ErrStuck) {
			t.Fatalf("a flush wedged for 30 minutes: %v", err)
		}
		mu.Lock()
		before := beats
		mu.Unlock()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		mu.Lock()
		after := beats
		mu.Unlock()
		if after != before {
			t.Fatalf("the heartbeat went on (%d -> %d) while notifications were stuck", before, after)
		}
		cancel()
		close(wedged.release)
		synctest.Wait()
	})
}

// limited answers 429 with Retry-After first, then takes the notification.
type limited struct {
	recorder
	after time.Duration
	tries []time.Time
}

func (l *limited) Notify(ctx context.Context, n *Notification) (bool, error) {
	l.mu.Lock()
	l.tries = append(l.tries, time.Now())
	first := len(l.tries) == 1
	l.mu.Unlock()
	if first {
		return true, &notify.RetryAfterError{After: l.after, Err: errors.New("HTTP 429")}
	}
	return l.recorder.Notify(ctx, n)
}

// A 429 with Retry-After on a new incident is retried after the wait the
// receiver asked (not a whole group interval later), and the fallback is
// not tripped.
func TestRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slackish, mail := &limited{after: 7 * time.Second}, &recorder{}
		d, err := NewDispatcher(DispatcherOptions{
			Routes:    []Route{{Receiver: "slack", Fallback: "mail", GroupBy: []string{"target"}}},
			Receivers: map[string]Receiver{"slack": slackish, "mail": mail}, Log: &MemLog{}})
		if err != nil {
			t.Fatal(err)
		}
		d.Add([]*Alert{down("portal", time.Now())})
		time.Sleep(time.Minute)
		d.FlushDue(t.Context())
		if slackish.count() != 1 || mail.count() != 0 || len(slackish.tries) != 2 {
			t.Fatalf("%d delivered in %d tries, fallback told %d times", slackish.count(), len(slackish.tries), mail.count())
		}
		if wait := slackish.tries[1].Sub(slackish.tries[0]); wait < 7*time.Second || wait > 8*time.Second {
			t.Fatalf("retried after %s, want Retry-After's 7s", wait)
		}
	})
}

// crashLog is a log whose writes are lost from the moment crashed is set:
// the process died between a send and its record.
type crashLog struct {
	*MemLog
	crashed atomic.Bool
}

func (l *crashLog) Put(ctx context.Context, receiver, key string, e LogEntry) error {
	if l.crashed.Load() {
		return nil
	}
	return l.MemLog.Put(ctx, receiver, key, e)
}

// crasher delivers, then "kills" the process before the log is written.
type crasher struct {
	recorder
	log *crashLog
}

func (c *crasher) Notify(ctx context.Context, n *Notification) (bool, error) {
	c.log.crashed.Store(true)
	return c.recorder.Notify(ctx, n)
}

// kill -9 between a send and its record: after the restart the same
// notification is sent again (at least once), with the same id and the
// incident's real startsAt, though the restarted rule manager says the
// alert started later.
func TestCrashResendKeepsID(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	log := &crashLog{MemLog: &MemLog{}}
	rcv := &crasher{log: log}
	d := newTestDispatcher(t, rcv, log, c, nil)
	ctx := context.Background()
	began := c.t
	d.Add([]*Alert{down("portal", began)})
	c.advance(time.Minute)
	d.FlushDue(ctx)
	// Restart: a new dispatcher over what the log kept; the rule manager
	// starts the alert afresh.
	c.advance(2 * time.Minute)
	log.crashed.Store(false)
	d = newTestDispatcher(t, &rcv.recorder, log.MemLog, c, nil)
	d.Add([]*Alert{down("portal", c.t)})
	c.advance(time.Minute)
	d.FlushDue(ctx)
	if rcv.count() != 2 {
		t.Fatalf("%d notifications, want the first and its resend", rcv.count())
	}
	first, again := rcv.got[0], rcv.got[1]
	if first.ID == "" || again.ID != first.ID || !again.StartsAt.Equal(began) || !again.Alerts[0].StartsAt.Equal(began) {
		t.Fatalf("resend id %q startsAt %s (alert %s), want id %q startsAt %s", again.ID, again.StartsAt, again.Alerts[0].StartsAt, first.ID, began)
	}
	// Told now: nothing more until it changes; the next change has a new id.
	c.advance(5 * time.Minute)
	d.Add([]*Alert{down("portal", c.t), down("web", c.t)})
	d.FlushDue(ctx)
	if rcv.count() != 3 || rcv.got[2].ID == first.ID || rcv.got[2].Incident != first.Incident {
		t.Fatalf("the change: %d notifications, id %q incident %q", rcv.count(), rcv.got[2].ID, rcv.got[2].Incident)
	}
}
