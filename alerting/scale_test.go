package alerting

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// nop takes every notification.
type nop struct{}

func (nop) Notify(context.Context, *Notification) (bool, error) { return false, nil }

// scaleWorld is 10,000 firing alerts in 1,000 groups, with 10,000
// silences (a tenth of them muting an alert).
func scaleWorld(tb testing.TB) (*Dispatcher, *clock, []*Alert) {
	c := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	sl, err := NewSilencer(ctx, &MemSilenceStore{}, c.now)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 10_000 {
		m := map[string]string{"target": fmt.Sprintf("elsewhere-%d", i)}
		if i%10 == 0 {
			m = map[string]string{"target": fmt.Sprintf("svc-%d", i)}
		}
		if _, err := sl.Add(ctx, &Silence{Matchers: m, EndsAt: c.t.Add(time.Duration(1+i%48) * time.Hour), By: "otto", Comment: "load"}); err != nil {
			tb.Fatal(err)
		}
	}
	d, err := NewDispatcher(DispatcherOptions{
		Routes: []Route{{Receiver: "duty", GroupBy: []string{"grp"}, GroupWait: configfile.Duration(time.Second),
			GroupInterval: configfile.Duration(time.Minute), RepeatInterval: configfile.Duration(time.Hour)}},
		Receivers: map[string]Receiver{"duty": nop{}}, Log: &MemLog{}, Silencer: sl, Now: c.now})
	if err != nil {
		tb.Fatal(err)
	}
	alerts := make([]*Alert, 0, 10_000)
	for i := range 10_000 {
		alerts = append(alerts, &Alert{Labels: labels.FromStrings("alertname", "ServiceDownEverywhere", "classification", "down-everywhere",
			"grp", fmt.Sprint(i%1000), "target", fmt.Sprintf("svc-%d", i)), StartsAt: c.t})
	}
	return d, c, alerts
}

// One cycle: the rule manager sends every alert, every group is due and
// flushed (inhibition, silences, hashes, the log).
func BenchmarkFlush(b *testing.B) {
	d, c, alerts := scaleWorld(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c.advance(time.Minute)
		d.Add(alerts)
		d.FlushDue(ctx)
	}
	if per := b.Elapsed() / time.Duration(b.N); per > time.Second {
		b.Fatalf("%s per flush cycle of 10,000 alerts in 1,000 groups with 10,000 silences, want under 1s", per)
	}
}

// A month of incidents and silences, a new set each day, with the
// collection running: the log, the silences and the heap stay flat.
func TestMemoryFlatOverMonth(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated month")
	}
	c := &clock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	store := &MemSilenceStore{}
	sl, _ := NewSilencer(ctx, store, c.now)
	log := &MemLog{}
	d, err := NewDispatcher(DispatcherOptions{
		Routes: []Route{{Receiver: "duty", GroupBy: []string{"target"}, GroupWait: configfile.Duration(time.Second),
			GroupInterval: configfile.Duration(5 * time.Minute)}},
		Receivers: map[string]Receiver{"duty": nop{}}, Log: log, Silencer: sl, Now: c.now, GCInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	var atWeek uint64
	for day := range 30 {
		for hour := range 24 {
			// 50 incidents an hour on targets never seen before, each
			// acknowledged, resolved 20 minutes later; 20 silences an hour.
			var fired []*Alert
			for i := range 50 {
				tgt := fmt.Sprintf("d%d-h%d-svc%d", day, hour, i)
				fired = append(fired, down(tgt, c.t))
				sl.Add(ctx, &Silence{Matchers: map[string]string{"target": tgt + "-x"}, EndsAt: c.t.Add(time.Duration(1+rng.IntN(4)) * time.Hour),
					By: "otto", Comment: "maintenance"})
			}
			d.Add(fired)
			for step := range 12 {
				c.advance(5 * time.Minute)
				if step == 4 {
					var resolved []*Alert
					for _, a := range fired {
						resolved = append(resolved, &Alert{Labels: a.Labels, StartsAt: a.StartsAt, EndsAt: c.t})
					}
					d.Add(resolved)
				}
				if step == 1 {
					for _, in := range d.Incidents() {
						sl.Acknowledge(ctx, in.GroupKey, "otto", "on it", true)
					}
				}
				d.FlushDue(ctx)
				d.maybeGC(ctx)
			}
		}
		if day == 7 {
			atWeek = heap()
		}
	}
	silences, acks := store.Len()
	// Retention 5 days: 5 * 24 * 50 groups' entries at most; silences of
	// the last 5 days (and a few hours).
	if n := log.Len(); n > 5*24*50+50 {
		t.Errorf("notification log holds %d entries after a month", n)
	}
	// Acknowledgement records: those of the last GC interval (an ack and
	// its end for each of the hour's 50 incidents), none in force.
	if silences > 5*24*50+4*50 || acks > 2*50 || len(sl.acks) > 0 {
		t.Errorf("after a month: %d silences, %d acknowledgements kept", silences, acks)
	}
	if n := len(d.groups); n > 0 {
		t.Errorf("%d groups held after every incident resolved", n)
	}
	end := heap()
	t.Logf("heap in use: %d KiB at day 7, %d KiB at day 30; log %d entries, %d silences, %d acks", atWeek>>10, end>>10, log.Len(), silences, acks)
	if end > atWeek+atWeek/2 {
		t.Errorf("heap grew from %d KiB (day 7) to %d KiB (day 30)", atWeek>>10, end>>10)
	}
}
