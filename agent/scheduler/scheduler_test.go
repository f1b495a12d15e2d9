package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestParse(t *testing.T) {
	for _, ok := range []string{"@every 30s", "*/5 * * * *", "0 */2 * * * *", "@hourly"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "every 30s", "@every 500ms", "61 * * * *"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want error", bad)
		}
	}
}

// 1,000 jobs on one schedule spread over the whole period, each at a stable
// offset, each run once per period.
func TestSpreadAndPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched, _ := Parse("@every 10s")
		var mu sync.Mutex
		starts := map[string][]time.Time{}
		jobs := make([]Job, 1000)
		for i := range jobs {
			key := fmt.Sprintf("t%d", i)
			jobs[i] = Job{Key: key, Schedule: sched, Run: func(ctx context.Context, at time.Time) {
				mu.Lock()
				starts[key] = append(starts[key], time.Now())
				mu.Unlock()
			}}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 35*time.Second)
		defer cancel()
		New(Options{Concurrency: 8}).Run(ctx, jobs)
		buckets := make([]int, 10) // per second of the period
		for key, ts := range starts {
			if len(ts) < 3 || len(ts) > 4 {
				t.Fatalf("%s ran %d times in 35s of a 10s schedule", key, len(ts))
			}
			for i := 1; i < len(ts); i++ {
				if d := ts[i].Sub(ts[i-1]); d != 10*time.Second {
					t.Fatalf("%s: interval %v, want 10s", key, d)
				}
			}
			buckets[ts[0].UnixNano()%int64(10*time.Second)/int64(time.Second)]++
		}
		for i, n := range buckets {
			if n < 50 || n > 150 { // 100 expected per second
				t.Errorf("second %d of the period holds %d of 1000 jobs: not spread", i, n)
			}
		}
	})
}

// A job still running at its next start is skipped, not stacked.
func TestSkipWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched, _ := Parse("@every 1s")
		var runs, skips int
		var mu sync.Mutex
		jobs := []Job{{Key: "slow", Schedule: sched, Run: func(ctx context.Context, _ time.Time) {
			mu.Lock()
			runs++
			mu.Unlock()
			select {
			case <-time.After(2500 * time.Millisecond):
			case <-ctx.Done():
			}
		}}}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		New(Options{Skipped: func(string) { mu.Lock(); skips++; mu.Unlock() }}).Run(ctx, jobs)
		if runs < 3 || runs > 4 || skips < 5 {
			t.Fatalf("runs=%d skips=%d over 10s of a 1s schedule with 2.5s jobs", runs, skips)
		}
	})
}

// Update adds and removes jobs while running; a kept job keeps its phase.
func TestUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched, _ := Parse("@every 10s")
		var mu sync.Mutex
		runs := map[string][]time.Time{}
		job := func(key string) Job {
			return Job{Key: key, Schedule: sched, Run: func(context.Context, time.Time) {
				mu.Lock()
				runs[key] = append(runs[key], time.Now())
				mu.Unlock()
			}}
		}
		s := New(Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() { s.Run(ctx, []Job{job("a"), job("b")}); close(done) }()
		time.Sleep(25 * time.Second)
		if err := s.Update(ctx, []Job{job("a"), job("c")}); err != nil {
			t.Fatal(err)
		}
		<-done
		if n := len(runs["b"]); n < 2 || n > 3 {
			t.Errorf("b ran %d times before removal at 25s", n)
		}
		if n := len(runs["c"]); n < 3 || n > 4 {
			t.Errorf("c ran %d times in the 35s after it was added", n)
		}
		if n := len(runs["a"]); n != 6 {
			t.Errorf("a ran %d times in 60s, want 6", n)
		}
		for i := 1; i < len(runs["a"]); i++ {
			if d := runs["a"][i].Sub(runs["a"][i-1]); d != 10*time.Second {
				t.Errorf("a's interval changed across the update: %v", d)
			}
		}
	})
}

// No more than Concurrency jobs run at once, however many are due; the
// others wait for a free worker and still run in the same period.
func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sched, err := Parse("*/10 * * * * *") // all due within MaxJitter
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		start := time.Now()
		running, peak, runs := 0, 0, 0
		jobs := make([]Job, 50)
		for i := range jobs {
			jobs[i] = Job{Key: fmt.Sprintf("t%d", i), Schedule: sched, Run: func(ctx context.Context, _ time.Time) {
				mu.Lock()
				running++
				if time.Since(start) < 10*time.Second {
					runs++
				}
				peak = max(peak, running)
				mu.Unlock()
				time.Sleep(500 * time.Millisecond) // 50 jobs × 0.5 s over 4 workers: 6.5 s of the 10 s period
				mu.Lock()
				running--
				mu.Unlock()
			}}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		New(Options{Concurrency: 4, MaxJitter: time.Millisecond}).Run(ctx, jobs)
		if peak != 4 {
			t.Errorf("peak concurrency %d, want 4", peak)
		}
		if runs != 50 {
			t.Errorf("%d of 50 jobs started within their 10 s period, want all", runs)
		}
	})
}
