package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/playbooks"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// Default step timeouts.
const (
	defaultStepTimeout   = 15 * time.Minute
	defaultManualTimeout = 4 * time.Hour
)

// execute runs run's steps from run.Next to the end.
func (r *Runner) execute(ctx context.Context, run *Run) {
	pb := r.opts.Playbooks()[run.Playbook]
	if pb == nil {
		r.finish(ctx, run, fmt.Errorf("playbook %q is no longer loaded", run.Playbook))
		return
	}
	byName := map[string]*playbooks.Step{}
	indexSteps(pb.Steps, byName)
	indexSteps(pb.Recovery, byName)
	for {
		r.mu.Lock()
		i := run.Next
		r.mu.Unlock()
		if i >= len(pb.Steps) {
			r.finish(ctx, run, nil)
			return
		}
		if s := &pb.Steps[i]; pb.RecoveryOnly(s.Name) {
			// Checking refuses such a playbook; should one get here, a
			// step that recovers still never runs on the success path.
			r.log(ctx, run, "bulwark", "step.skipped", map[string]any{"step": s.Name, "why": "it runs only when a step fails"})
		} else if err := r.step(ctx, run, pb, s, byName); err != nil {
			r.finish(ctx, run, err)
			return
		}
		r.mu.Lock()
		run.Next = i + 1
		run.State, run.Wait = Running, nil
		err := r.opts.Store.SaveRun(ctx, run)
		r.mu.Unlock()
		if err != nil {
			r.opts.Logger.Error("runner: saving a run failed", "run", run.ID, "err", err)
		}
	}
}

func indexSteps(steps []playbooks.Step, into map[string]*playbooks.Step) {
	for i := range steps {
		into[steps[i].Name] = &steps[i]
		indexSteps(steps[i].Parallel, into)
	}
}

// step runs one step (a group runs its members at once), then, on
// failure, its on_failure: "continue" goes on, a named step recovers (the
// run goes on if it succeeds), otherwise the step's error ends the run.
func (r *Runner) step(ctx context.Context, run *Run, pb *playbooks.Playbook, s *playbooks.Step, byName map[string]*playbooks.Step) error {
	err := r.attempt(ctx, run, s, byName)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err // stopping: no handler runs, the run resumes or fails at the next start
	}
	handler := s.OnFailure
	if handler == "" && pb.OnFailure != "" {
		handler = pb.OnFailure
	}
	switch handler {
	case "continue":
		r.log(ctx, run, "bulwark", "step.continue", map[string]any{"step": s.Name, "error": err.Error()})
		return nil
	case "", "abort":
		return fmt.Errorf("step %s: %w", s.Name, err)
	}
	rec := byName[handler]
	if rec == nil || rec == s {
		return fmt.Errorf("step %s: %w", s.Name, err)
	}
	r.log(ctx, run, "bulwark", "step.recover", map[string]any{"step": s.Name, "with": handler, "error": err.Error()})
	if rerr := r.attempt(ctx, run, rec, byName); rerr != nil {
		return fmt.Errorf("step %s: %w; recovery %s: %v", s.Name, err, handler, rerr)
	}
	return nil
}

// attempt runs s once.
func (r *Runner) attempt(ctx context.Context, run *Run, s *playbooks.Step, byName map[string]*playbooks.Step) error {
	if len(s.Parallel) > 0 {
		var wg sync.WaitGroup
		errs := make([]error, len(s.Parallel))
		for i := range s.Parallel {
			wg.Go(func() { errs[i] = r.attempt(ctx, run, &s.Parallel[i], byName) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	spec, kind := s.Spec(), s.Kind()
	safe := kind.DrillSafe
	if s.DrillSafe != nil {
		safe = *s.DrillSafe
	}
	if run.Drill != "" && !safe {
		r.log(ctx, run, "bulwark", "step.would-run", map[string]any{"step": s.Name, "kind": kind.Name, "drill": run.Drill})
		return nil
	}
	manual := kind.Manual()
	timeout := time.Duration(s.Timeout)
	if timeout <= 0 {
		timeout = defaultStepTimeout
		if manual {
			timeout = defaultManualTimeout
		}
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r.log(ctx, run, "bulwark", "step.start", map[string]any{"step": s.Name, "kind": kind.Name})
	r.mu.Lock()
	resumed := run.Wait != nil && run.Wait.Step == s.Name
	if manual && !resumed {
		run.Version++ // a new question: answers to older ones are stale
	}
	data := step.Data{Inputs: run.Inputs, Alert: run.Alert, Run: map[string]string{"id": run.ID, "playbook": run.Playbook}, Drill: run.Drill,
		Step: s.Name, Resumed: resumed, Version: run.Version}
	r.mu.Unlock()
	res, err := spec.Run(sctx, r.opts.Runtime, data)
	if errors.Is(err, step.ErrManual) {
		err = r.waitForPeople(sctx, run, s, kind, spec)
	}
	detail := map[string]any{"step": s.Name, "output": res.Output}
	if err != nil && ctx.Err() != nil {
		return err // the collector is stopping: not the step's failure
	}
	if err != nil {
		detail["error"] = err.Error()
		r.log(ctx, run, "bulwark", "step.failed", detail)
		return err
	}
	r.log(ctx, run, "bulwark", "step.ok", detail)
	return nil
}

// waitForPeople puts the run in the waiting state until the manual step
// is answered, or its timeout.
func (r *Runner) waitForPeople(ctx context.Context, run *Run, s *playbooks.Step, kind step.Kind, spec step.Spec) error {
	w := &Wait{Step: s.Name, Kind: kind.Name}
	if kind.Waits != nil {
		w.Role, w.Items = kind.Waits(spec)
	}
	r.mu.Lock()
	if run.Wait != nil && run.Wait.Step == s.Name { // resumed after a restart: keep what was answered
		w = run.Wait
	}
	run.State, run.Wait = Waiting, w
	err := r.opts.Store.SaveRun(ctx, run)
	wake := r.wake[run.ID]
	r.mu.Unlock()
	if err != nil {
		return err
	}
	for {
		r.mu.Lock()
		done := run.Wait != nil && run.Wait.Done
		r.mu.Unlock()
		if done {
			r.mu.Lock()
			run.State = Running
			r.mu.Unlock()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nobody answered: %w", ctx.Err())
		case <-wake:
		}
	}
}

// finish ends run: succeeded, or failed with err.
func (r *Runner) finish(ctx context.Context, run *Run, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil && err != nil {
		return // the collector is stopping: the run is failed as interrupted at the next start
	}
	run.State, run.Ended, run.Wait = Succeeded, r.opts.Now(), nil
	if err != nil {
		run.State = Failed
		r.record(run, "bulwark", "run.failed", map[string]any{"error": err.Error()})
	} else {
		r.record(run, "bulwark", "run.succeeded", nil)
	}
	delete(r.active, run.Playbook+"|"+run.Key)
	if serr := r.opts.Store.SaveRun(context.WithoutCancel(ctx), run); serr != nil {
		r.opts.Logger.Error("runner: saving a run failed", "run", run.ID, "err", serr)
	}
}

// log records an entry and saves the run.
func (r *Runner) log(ctx context.Context, run *Run, actor, action string, detail any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.record(run, actor, action, detail)
	if err := r.opts.Store.SaveRun(context.WithoutCancel(ctx), run); err != nil {
		r.opts.Logger.Error("runner: saving a run failed", "run", run.ID, "err", err)
	}
}

func (r *Runner) copy(run *Run) *Run {
	b, _ := json.Marshal(run)
	var c Run
	json.Unmarshal(b, &c)
	return &c
}

func sortRuns(runs []*Run) {
	slices.SortFunc(runs, func(a, b *Run) int { return b.Started.Compare(a.Started) })
}

// roleAtLeast: admin > operator > viewer.
func roleAtLeast(have, want string) bool {
	rank := map[string]int{"viewer": 1, "operator": 2, "admin": 3}
	return rank[have] >= rank[want] && rank[have] > 0
}

func jsonOf(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", err.Error()))
	}
	return b
}
