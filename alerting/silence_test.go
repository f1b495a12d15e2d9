package alerting

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// A recurring maintenance window mutes only inside its windows, in its
// time zone; a one-off silence between its start and end.
func TestSilenceWindows(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	s := &Silence{Matchers: map[string]string{"target": "grid-portal"}, StartsAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		EndsAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Schedule: "0 2 * * SUN", Duration: 2 * time.Hour, TZ: "Europe/Paris",
		By: "otto", Comment: "weekly grid maintenance"}
	if err := s.Prepare(); err != nil {
		t.Fatal(err)
	}
	grid := labels.FromStrings("alertname", "ServiceDownEverywhere", "target", "grid-portal")
	for _, c := range []struct {
		at   time.Time
		mute bool
	}{
		{time.Date(2026, 11, 29, 1, 59, 0, 0, paris), false}, // Sunday, before
		{time.Date(2026, 11, 29, 2, 0, 0, 0, paris), true},
		{time.Date(2026, 11, 29, 3, 59, 0, 0, paris), true},
		{time.Date(2026, 11, 29, 4, 0, 0, 0, paris), false},
		{time.Date(2026, 11, 30, 2, 30, 0, 0, paris), false}, // Monday
		{time.Date(2027, 1, 3, 2, 30, 0, 0, paris), false},   // after the silence ends
	} {
		if got := s.Mutes(grid, c.at); got != c.mute {
			t.Errorf("at %s: mutes %v, want %v", c.at, got, c.mute)
		}
	}
	if s.Mutes(labels.FromStrings("target", "payments"), time.Date(2026, 11, 29, 2, 30, 0, 0, paris)) {
		t.Error("a silence of grid-portal muted payments")
	}
	for _, bad := range []Silence{
		{By: "otto", Comment: "x", EndsAt: time.Now().Add(time.Hour)},                                                              // no matcher
		{Matchers: map[string]string{"a": "b"}, EndsAt: time.Now().Add(time.Hour)},                                                 // no author
		{Matchers: map[string]string{"a": "b"}, By: "o", Comment: "c", StartsAt: time.Now(), EndsAt: time.Now().Add(-time.Hour)},   // ends first
		{Matchers: map[string]string{"a": "b"}, By: "o", Comment: "c", EndsAt: time.Now().Add(time.Hour), Schedule: "0 2 * * SUN"}, // no duration
		{Matchers: map[string]string{"a": "b"}, By: "o", Comment: "c", EndsAt: time.Now().Add(time.Hour), Schedule: "whenever", Duration: time.Hour},
	} {
		if err := bad.Prepare(); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// Silenced alerts are not notified; an acknowledged incident is not
// repeated; both survive a restart through the store.
func TestSilencesAndAcks(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	store := &MemSilenceStore{}
	ctx := context.Background()
	sl, err := NewSilencer(ctx, store, c.now)
	if err != nil {
		t.Fatal(err)
	}
	sil, err := sl.Add(ctx, &Silence{Matchers: map[string]string{"target": "svc-01"}, EndsAt: c.t.Add(24 * time.Hour), By: "otto", Comment: "planned"})
	if err != nil {
		t.Fatal(err)
	}
	rcv := &recorder{}
	d, _ := NewDispatcher(DispatcherOptions{
		Routes:    []Route{{Receiver: "duty", GroupBy: []string{"classification"}, RepeatInterval: 0}},
		Receivers: map[string]Receiver{"duty": rcv}, Log: &MemLog{}, Silencer: sl, Now: c.now})
	d.Add([]*Alert{down("svc-01", c.t), down("svc-02", c.t)})
	c.advance(time.Minute)
	d.FlushDue(ctx)
	if rcv.count() != 1 || len(rcv.got[0].Alerts) != 1 || rcv.got[0].Alerts[0].Labels.Get("target") != "svc-02" {
		t.Fatalf("silenced svc-01 was notified: %+v", rcv.got)
	}
	inc := d.Incidents()
	if len(inc) != 1 || inc[0].Silenced != 1 {
		t.Fatalf("incidents: %+v", inc)
	}
	// Acknowledged: the repeat interval passes, nothing is repeated.
	if _, err := sl.Acknowledge(ctx, inc[0].GroupKey, "otto", "on it", true); err != nil {
		t.Fatal(err)
	}
	c.advance(5 * time.Hour)
	d.FlushDue(ctx)
	if rcv.count() != 1 {
		t.Fatalf("an acknowledged incident was repeated: %d", rcv.count())
	}
	// A restart keeps the silence and the acknowledgement.
	sl2, err := NewSilencer(ctx, store, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if sl2.Muted(labels.FromStrings("target", "svc-01")) == nil || sl2.Acked(inc[0].GroupKey) == nil {
		t.Fatal("silence or acknowledgement lost in a restart")
	}
	if _, err := sl.Expire(ctx, sil.ID); err != nil {
		t.Fatal(err)
	}
	if sl.Muted(labels.FromStrings("target", "svc-01")) != nil {
		t.Fatal("an expired silence still mutes")
	}
	if _, err := sl.Expire(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("expire unknown: %v", err)
	}
}

// The index of active silences answers as a scan of every silence would,
// over random silences (equality, empty-value and regexp matchers, some
// ended, some not begun, some expired meanwhile) and label sets.
func TestSilenceIndexMatchesScan(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	sl, _ := NewSilencer(ctx, &MemSilenceStore{}, c.now)
	vals := []string{"a", "b", "c", ""}
	names := []string{"target", "grp", "agent"}
	var all []*Silence
	for range 300 {
		s := &Silence{Matchers: map[string]string{}, MatchRE: map[string]string{}, By: "otto", Comment: "x",
			StartsAt: c.t.Add(time.Duration(rng.IntN(120)-60) * time.Minute)}
		s.EndsAt = s.StartsAt.Add(time.Duration(1+rng.IntN(180)) * time.Minute)
		for _, n := range names {
			switch rng.IntN(4) {
			case 0:
				s.Matchers[n] = vals[rng.IntN(len(vals))]
			case 1:
				s.MatchRE[n] = "a|b"
			}
		}
		if len(s.Matchers)+len(s.MatchRE) == 0 {
			s.Matchers["target"] = "a"
		}
		added, err := sl.Add(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, added)
	}
	for step := range 200 {
		c.advance(time.Duration(rng.IntN(5)) * time.Minute)
		if step%20 == 0 {
			if _, err := sl.Expire(ctx, all[rng.IntN(len(all))].ID); err != nil {
				t.Fatal(err)
			}
		}
		var kv []string
		for _, n := range names {
			if v := vals[rng.IntN(len(vals))]; v != "" {
				kv = append(kv, n, v)
			}
		}
		ls := labels.FromStrings(kv...)
		var want bool
		sl.mu.RLock()
		for _, x := range sl.silences {
			want = want || x.Mutes(ls, c.t)
		}
		sl.mu.RUnlock()
		if got := sl.Muted(ls) != nil; got != want {
			t.Fatalf("step %d, %s at %s: index says muted %v, scan %v", step, ls, c.t, got, want)
		}
	}
}
