// Package scheduler runs jobs on cron schedules from one goroutine and a
// heap, spreading jobs that share a schedule over its period with a stable
// per-job offset so that 1,000 targets on "@every 30s" do not fire together.
package scheduler

import (
	"container/heap"
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Parse reads a schedule: 5- or 6-field cron, a descriptor such as
// "@hourly", or "@every 30s" (at least one second).
func Parse(spec string) (cron.Schedule, error) { return target.ParseSchedule(spec) }

// Job is a function run on a schedule. Key identifies the job and decides
// its offset inside the period.
type Job struct {
	Key      string
	Schedule cron.Schedule
	Run      func(ctx context.Context, scheduled time.Time)
}

// Options configure a Scheduler.
type Options struct {
	// Concurrency bounds the jobs running at once (default 64).
	Concurrency int
	// MaxJitter bounds the offset of cron-expression schedules (default 30s);
	// "@every" schedules spread over their whole interval.
	MaxJitter time.Duration
	Logger    *slog.Logger
	// Observe, when set, is told how late each job started.
	Observe func(lateness time.Duration)
	// Skipped, when set, is called when a job is still running at its next start.
	Skipped func(key string)
}

// Scheduler runs jobs until its context ends.
type Scheduler struct {
	opts    Options
	updates chan []Job
}

// New returns a Scheduler with defaults filled in.
func New(opts Options) *Scheduler {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	if opts.MaxJitter <= 0 {
		opts.MaxJitter = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{opts: opts, updates: make(chan []Job)}
}

// Update replaces the running jobs: jobs with a known key keep their
// phase and do not overlap a run in progress; new keys start; missing keys
// stop after their current run. It blocks until Run takes the update.
func (s *Scheduler) Update(ctx context.Context, jobs []Job) error {
	select {
	case s.updates <- jobs:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type entry struct {
	job     *Job
	offset  time.Duration
	next    time.Time
	running sync.Mutex
}

type queue []*entry

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)        { *q = append(*q, x.(*entry)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// Offset is the stable position of key inside a period.
func Offset(key string, period time.Duration) time.Duration {
	if period <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return time.Duration(h.Sum64() % uint64(period))
}

// Next returns the first start of e strictly after t.
func (e *entry) nextAfter(t time.Time) time.Time {
	if d, ok := e.job.Schedule.(cron.ConstantDelaySchedule); ok {
		// Align "@every" schedules to the epoch plus the job's offset, so
		// starts are stable across restarts and evenly spread.
		p := d.Delay
		n := t.Add(-e.offset).Truncate(p).Add(p).Add(e.offset)
		return n
	}
	return e.job.Schedule.Next(t.Add(-e.offset)).Add(e.offset)
}

func (s *Scheduler) newEntry(j *Job, now time.Time) *entry {
	e := &entry{job: j}
	if d, ok := j.Schedule.(cron.ConstantDelaySchedule); ok {
		e.offset = Offset(j.Key, d.Delay)
	} else {
		first := j.Schedule.Next(now)
		period := min(j.Schedule.Next(first).Sub(first), s.opts.MaxJitter)
		e.offset = Offset(j.Key, period)
	}
	e.next = e.nextAfter(now)
	return e
}

// Run starts the jobs and blocks until ctx is done and running jobs return.
func (s *Scheduler) Run(ctx context.Context, jobs []Job) error {
	byKey := map[string]*entry{}
	var q queue
	load := func(jobs []Job) {
		now := time.Now()
		next := make(map[string]*entry, len(jobs))
		for i := range jobs {
			j := &jobs[i]
			if e, ok := byKey[j.Key]; ok {
				fresh := s.newEntry(j, now)
				e.job, e.offset, e.next = j, fresh.offset, fresh.next
				next[j.Key] = e
				continue
			}
			next[j.Key] = s.newEntry(j, now)
		}
		byKey = next
		q = q[:0]
		for _, e := range byKey {
			q = append(q, e)
		}
		heap.Init(&q)
	}
	load(jobs)
	// Workers outlive their jobs: a goroutine per run would grow a fresh
	// stack for every probe. They start as needed, up to Concurrency.
	type run struct {
		e         *entry
		job       *Job // e.job when it was due: an update may replace it
		scheduled time.Time
	}
	runs := make(chan run)
	work := func(r run) {
		for {
			r.job.Run(ctx, r.scheduled)
			r.e.running.Unlock()
			var ok bool
			if r, ok = <-runs; !ok {
				return
			}
		}
	}
	workers := 0
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(runs)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Wait for the next job unless it is already due: then run it
		// without a round trip through the timer.
		if len(q) == 0 || time.Until(q[0].next) > 0 {
			var due <-chan time.Time // nil: no job to wait for
			if len(q) > 0 {
				timer.Reset(time.Until(q[0].next))
				due = timer.C
			}
			select {
			case <-ctx.Done():
				return nil
			case jobs := <-s.updates:
				load(jobs)
				continue
			case <-due:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		e := q[0]
		scheduled := e.next
		e.next = e.nextAfter(scheduled)
		if !e.next.After(time.Now()) { // fell far behind: skip to the future
			e.next = e.nextAfter(time.Now())
		}
		heap.Fix(&q, 0)
		if !e.running.TryLock() {
			if s.opts.Skipped != nil {
				s.opts.Skipped(e.job.Key)
			}
			continue
		}
		r := run{e: e, job: e.job, scheduled: scheduled}
		select {
		case runs <- r: // an idle worker took it
		default:
			if workers < s.opts.Concurrency {
				workers++
				wg.Go(func() { work(r) })
				break
			}
			select {
			case runs <- r:
			case <-ctx.Done():
				e.running.Unlock()
				return nil
			}
		}
		if s.opts.Observe != nil {
			s.opts.Observe(time.Since(scheduled))
		}
	}
}
