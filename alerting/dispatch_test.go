package alerting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// recorder is a receiver that keeps what it was given; it fails the
// first `fail` attempts with a retryable error.
type recorder struct {
	mu   sync.Mutex
	got  []*Notification
	fail int
}

func (r *recorder) Notify(_ context.Context, n *Notification) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return true, errors.New("HTTP 503")
	}
	r.got = append(r.got, n)
	return false, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func down(tgt string, since time.Time) *Alert {
	return &Alert{Labels: labels.FromStrings("alertname", "ServiceDownEverywhere", "classification", "down-everywhere", "severity", "page", "target", tgt),
		StartsAt: since}
}

func newTestDispatcher(t *testing.T, rcv Receiver, log Log, c *clock, cause func([]string) *Cause) *Dispatcher {
	t.Helper()
	d, err := NewDispatcher(DispatcherOptions{
		Routes: []Route{{Receiver: "duty", Match: map[string]string{"severity": "page"}, GroupBy: []string{"classification"},
			GroupWait: configfile.Duration(30 * time.Second), GroupInterval: configfile.Duration(5 * time.Minute), RepeatInterval: configfile.Duration(4 * time.Hour)}},
		Receivers: map[string]Receiver{"duty": rcv}, Log: log, Cause: cause, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Thirty services that go down together through one provider are one
// notification naming it; nothing is sent again until something changes
// or the repeat interval passes; a restart sends nothing twice; the
// resolution is told once.
func TestOneIncidentNotThirtyPages(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := &recorder{}
	log := &MemLog{}
	cause := func(targets []string) *Cause {
		if len(targets) < 2 {
			return nil
		}
		return &Cause{Layer: "dns", Provider: "cathaydns", Name: "Cathay DNS", Jurisdiction: "XC", Targets: targets}
	}
	d := newTestDispatcher(t, rcv, log, c, cause)
	ctx := context.Background()
	var alerts []*Alert
	for i := range 30 {
		alerts = append(alerts, down(fmt.Sprintf("svc-%02d", i), c.t))
	}
	d.Add(alerts[:10])
	c.advance(10 * time.Second)
	d.Add(alerts) // the rule manager sends all again, and twenty more
	d.FlushDue(ctx)
	if rcv.count() != 0 {
		t.Fatal("notified before group_wait")
	}
	c.advance(25 * time.Second)
	d.FlushDue(ctx)
	if rcv.count() != 1 || len(rcv.got[0].Alerts) != 30 || rcv.got[0].Cause == nil || rcv.got[0].Cause.Provider != "cathaydns" ||
		len(rcv.got[0].Cause.Targets) != 30 {
		t.Fatalf("first notification: %d sent, %+v", rcv.count(), rcv.got)
	}
	// Unchanged: the next interval sends nothing; the repeat interval does.
	for range 5 {
		c.advance(5 * time.Minute)
		d.Add(alerts)
		d.FlushDue(ctx)
	}
	if rcv.count() != 1 {
		t.Fatalf("%d notifications for an unchanged incident", rcv.count())
	}
	// A restart mid-incident: a new dispatcher over the same log.
	d = newTestDispatcher(t, rcv, log, c, cause)
	d.Add(alerts)
	c.advance(time.Minute)
	d.FlushDue(ctx)
	if rcv.count() != 1 {
		t.Fatal("a restart paged again")
	}
	c.advance(4 * time.Hour)
	d.Add(alerts)
	d.FlushDue(ctx)
	if rcv.count() != 2 {
		t.Fatalf("repeat interval: %d notifications", rcv.count())
	}
	// Resolved: told once, then the group ends.
	c.advance(5 * time.Minute)
	for _, a := range alerts {
		a.EndsAt = c.t
	}
	d.Add(alerts)
	d.FlushDue(ctx)
	if rcv.count() != 3 || rcv.got[2].Status != "resolved" {
		t.Fatalf("resolution: %d notifications, last %+v", rcv.count(), rcv.got[len(rcv.got)-1])
	}
	c.advance(5 * time.Minute)
	d.FlushDue(ctx)
	if rcv.count() != 3 || len(d.groups) != 0 {
		t.Fatalf("after resolution: %d notifications, %d groups", rcv.count(), len(d.groups))
	}
}

// A flapping service is one incident whose notifications are bounded by
// the group interval, not a page per flap.
func TestFlappingDoesNotStorm(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := &recorder{}
	d := newTestDispatcher(t, rcv, &MemLog{}, c, nil)
	a := down("heat-network", c.t)
	for i := range 120 { // flaps every 10 s for 20 minutes
		if i%2 == 1 {
			a = &Alert{Labels: a.Labels, StartsAt: a.StartsAt, EndsAt: c.t}
		} else {
			a = &Alert{Labels: a.Labels, StartsAt: c.t}
		}
		d.Add([]*Alert{a})
		d.FlushDue(context.Background())
		c.advance(10 * time.Second)
	}
	if n := rcv.count(); n > 5 {
		t.Fatalf("%d notifications for 120 flaps in 20 minutes", n)
	}
}

// A receiver failing with a retryable error is retried; a notification is
// recorded only once delivered.
func TestRetry(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := &recorder{fail: 2}
	d := newTestDispatcher(t, rcv, &MemLog{}, c, nil)
	d.Add([]*Alert{down("portal", c.t)})
	c.advance(time.Minute)
	d.FlushDue(context.Background())
	if rcv.count() != 1 {
		t.Fatalf("%d delivered after two retryable failures", rcv.count())
	}
}

// A firing alert that is no longer sent (its rule was removed) resolves
// when its validity ends, instead of firing in its group forever.
func TestStaleAlertResolves(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := &recorder{}
	d := newTestDispatcher(t, rcv, &MemLog{}, c, nil)
	a := down("portal", c.t)
	a.ValidUntil = c.t.Add(4 * time.Minute)
	d.Add([]*Alert{a})
	c.advance(time.Minute)
	d.FlushDue(context.Background())
	c.advance(10 * time.Minute)
	d.FlushDue(context.Background())
	if rcv.count() != 2 || rcv.got[1].Status != "resolved" || len(d.groups) != 0 {
		t.Fatalf("%d notifications (last %+v), %d groups", rcv.count(), rcv.got[len(rcv.got)-1], len(d.groups))
	}
}

// A service down everywhere is not also reported slow (the default
// inhibition); the slow report comes through when it is not down.
func TestInhibition(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	rcv := &recorder{}
	d, err := NewDispatcher(DispatcherOptions{
		Routes:    []Route{{Receiver: "duty", GroupBy: []string{"alertname"}}},
		Receivers: map[string]Receiver{"duty": rcv}, Log: &MemLog{}, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	slow := func(tgt string) *Alert {
		return &Alert{Labels: labels.FromStrings("alertname", "LatencyAboveObjective", "severity", "ticket", "target", tgt), StartsAt: c.t}
	}
	d.Add([]*Alert{down("portal", c.t), slow("portal"), slow("payments")})
	c.advance(time.Minute)
	d.FlushDue(context.Background())
	var got []string
	for _, n := range rcv.got {
		for _, a := range n.Alerts {
			got = append(got, a.Labels.Get("alertname")+"/"+a.Labels.Get("target"))
		}
	}
	if strings.Join(got, " ") != "LatencyAboveObjective/payments ServiceDownEverywhere/portal" &&
		strings.Join(got, " ") != "ServiceDownEverywhere/portal LatencyAboveObjective/payments" {
		t.Fatalf("notified %v", got)
	}
	if _, err := NewDispatcher(DispatcherOptions{Routes: []Route{{Receiver: "duty"}}, Receivers: map[string]Receiver{"duty": rcv}, Log: &MemLog{},
		InhibitRules: []InhibitRule{{TargetMatch: map[string]string{"a": "b"}}}}); err == nil {
		t.Fatal("an inhibit rule without a source was accepted")
	}
}

// An incident nobody acknowledges in time goes to the next receiver, once,
// even across a restart; an acknowledged one does not.
func TestEscalation(t *testing.T) {
	for _, acked := range []bool{false, true} {
		c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
		duty, boss := &recorder{}, &recorder{}
		log := &MemLog{}
		sl, _ := NewSilencer(context.Background(), &MemSilenceStore{}, c.now)
		newD := func() *Dispatcher {
			d, err := NewDispatcher(DispatcherOptions{
				Routes: []Route{{Receiver: "duty", GroupBy: []string{"classification"}, EscalateTo: "boss",
					EscalateAfter: configfile.Duration(15 * time.Minute)}},
				Receivers: map[string]Receiver{"duty": duty, "boss": boss}, Log: log, Silencer: sl, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		d := newD()
		alerts := []*Alert{down("portal", c.t)}
		d.Add(alerts)
		c.advance(time.Minute)
		d.FlushDue(context.Background())
		if acked {
			sl.Acknowledge(context.Background(), d.Incidents()[0].GroupKey, "otto", "on it", true)
		}
		for range 6 { // 30 minutes
			c.advance(5 * time.Minute)
			d.Add(alerts)
			d.FlushDue(context.Background())
		}
		d = newD() // a restart
		for range 3 {
			c.advance(5 * time.Minute)
			d.Add(alerts)
			d.FlushDue(context.Background())
		}
		want := 1
		if acked {
			want = 0
		}
		if boss.count() != want {
			t.Errorf("acknowledged %v: %d escalations, want %d", acked, boss.count(), want)
		}
	}
}

// broken always fails, as a receiver with a revoked token does.
type broken struct{ calls int }

func (b *broken) Notify(context.Context, *Notification) (bool, error) {
	b.calls++
	return false, errors.New("invalid_auth")
}

// When the receiver keeps failing, the fallback is told, once per change.
func TestFallback(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	primary, fallback := &broken{}, &recorder{}
	d, err := NewDispatcher(DispatcherOptions{
		Routes:    []Route{{Receiver: "slack", Fallback: "mail", GroupBy: []string{"classification"}}},
		Receivers: map[string]Receiver{"slack": primary, "mail": fallback}, Log: &MemLog{}, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	alerts := []*Alert{down("portal", c.t)}
	for range 4 {
		d.Add(alerts)
		c.advance(5 * time.Minute)
		d.FlushDue(context.Background())
	}
	if primary.calls < 2 || fallback.count() != 1 {
		t.Fatalf("primary tried %d times, fallback told %d times; want retries and one fallback notification", primary.calls, fallback.count())
	}
}

// The heartbeat posts to its receiver; a failing receiver is an error.
func TestHeartbeat(t *testing.T) {
	var beats atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { beats.Add(1) }))
	defer srv.Close()
	h := &Heartbeat{URL: srv.URL + "/ping/SECRET", Interval: time.Hour}
	if err := h.Beat(context.Background()); err != nil || beats.Load() != 1 {
		t.Fatalf("beat: %v, %d received", err, beats.Load())
	}
	h.URL = "http://127.0.0.1:1/ping/SECRET"
	if err := h.Beat(context.Background()); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("unreachable: %v", err)
	}
}
