package collector

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/bulwarkhq/bulwark/playbooks"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// playbookSet is the loaded playbooks by name. A reload swaps the whole
// set or nothing: one invalid file refuses the reload and keeps the old
// set. Runs already started keep the playbook they started with.
type playbookSet struct {
	// env is what the playbooks are checked against: the receivers and
	// the exec allow-list of the running collector (they change only at
	// restart), the secret files read when checked.
	env     *step.Env
	cur     atomic.Pointer[map[string]*playbooks.Playbook]
	changed chan struct{} // signalled when a reload swapped the set
}

func newPlaybookSet(env *step.Env, files []string) (*playbookSet, error) {
	s := &playbookSet{env: env, changed: make(chan struct{}, 1)}
	m, err := s.load(files)
	if err != nil {
		return nil, err
	}
	s.cur.Store(&m)
	return s, nil
}

func (s *playbookSet) load(files []string) (map[string]*playbooks.Playbook, error) {
	pbs, err := playbooks.LoadGlobs(files, s.env)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*playbooks.Playbook, len(pbs))
	for _, pb := range pbs {
		m[pb.Name] = pb
	}
	return m, nil
}

// All is the current set (not to be changed by the caller).
func (s *playbookSet) All() map[string]*playbooks.Playbook { return *s.cur.Load() }

// Get is the playbook of that name, nil when none is loaded.
func (s *playbookSet) Get(name string) *playbooks.Playbook { return s.All()[name] }

// check loads the files named: the set a reload would swap in.
func (s *playbookSet) check(files []string) (map[string]*playbooks.Playbook, error) {
	m, err := s.load(files)
	if err != nil {
		return nil, fmt.Errorf("playbooks: %w", err)
	}
	return m, nil
}

// swap makes m the current set and lets the schedules know.
func (s *playbookSet) swap(m map[string]*playbooks.Playbook) {
	s.cur.Store(&m)
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// runSchedules starts the playbooks with schedule triggers at their times
// (cron, in their time zone), once per scheduled time, until ctx ends;
// after a reload, with the schedules of the new set.
func (a *App) runSchedules(ctx context.Context) {
	for {
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); runCron(sctx, a.scheduleJobs()) }()
		select {
		case <-ctx.Done():
		case <-a.playbooks.changed:
		}
		cancel()
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}

// scheduleJobs is a job per schedule trigger of the current playbooks.
func (a *App) scheduleJobs() []*cronJob {
	var jobs []*cronJob
	for _, pb := range a.playbooks.All() {
		for _, tr := range pb.Triggers {
			if tr.Schedule == "" {
				continue
			}
			spec := tr.Schedule
			if tr.TZ != "" {
				spec = "CRON_TZ=" + tr.TZ + " " + spec
			}
			s, err := cron.ParseStandard(spec)
			if err != nil {
				continue // checked when loaded
			}
			jobs = append(jobs, &cronJob{sched: s, fire: func(ctx context.Context, at time.Time) {
				key := "schedule@" + at.UTC().Format(time.RFC3339)
				if _, err := a.runner.Start(ctx, pb, key, "schedule", "", "bulwark", nil, nil); err != nil {
					a.opts.Logger.Warn("scheduled playbook not started", "playbook", pb.Name, "err", err)
				}
			}})
		}
	}
	return jobs
}

// cronJob is called at the times of its schedule.
type cronJob struct {
	sched cron.Schedule
	fire  func(ctx context.Context, at time.Time) // at: the scheduled time
	next  time.Time
}

// runCron calls each job once per scheduled time until ctx ends.
func runCron(ctx context.Context, jobs []*cronJob) {
	if len(jobs) == 0 {
		return
	}
	now := time.Now()
	for _, j := range jobs {
		j.next = j.sched.Next(now)
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		soonest := jobs[0].next
		for _, j := range jobs {
			if j.next.Before(soonest) {
				soonest = j.next
			}
		}
		t.Reset(time.Until(soonest))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		for _, j := range jobs {
			if now.Before(j.next) {
				continue
			}
			j.fire(ctx, j.next)
			j.next = j.sched.Next(now)
		}
	}
}
