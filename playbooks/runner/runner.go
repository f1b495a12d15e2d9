// Package runner runs playbooks: each run a persisted record with a
// hash-chained timeline (every step's start, end, outcome, output excerpt
// and actor), manual steps that wait for people (approvals by role,
// checklists ticked item by item), at most one active run per playbook
// and trigger key, a concurrency limit and a kill switch. After a
// restart, runs that were waiting for people wait again; runs that were
// acting are failed, said so in their timeline, never silently dropped.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/playbooks"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// States of a run.
const (
	Running   = "running"
	Waiting   = "waiting" // for an approval or a checklist
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Run is one run of a playbook.
type Run struct {
	ID       string            `json:"id"`
	Playbook string            `json:"playbook"`
	Key      string            `json:"key"` // one run per playbook and key
	Trigger  string            `json:"trigger"`
	Drill    string            `json:"drill,omitempty"`
	Inputs   map[string]string `json:"inputs"`
	Alert    map[string]string `json:"alert,omitempty"`
	State    string            `json:"state"`
	Started  time.Time         `json:"started"`
	Ended    time.Time         `json:"ended,omitzero"`
	Next     int               `json:"next"` // the top-level step to run next
	// Version counts the run's waits and answers: it moves when a
	// manual step begins waiting (not when a restart resumes it) and
	// when it is answered. An approval names the version it answers, so
	// a replayed one, even after a restart, finds it moved.
	Version  int64         `json:"version"`
	Wait     *Wait         `json:"wait,omitempty"`
	Timeline []audit.Entry `json:"timeline"`
}

// Wait is a manual step a run waits on.
type Wait struct {
	Step   string            `json:"step"`
	Kind   string            `json:"kind"` // approval, checklist
	Role   string            `json:"role,omitempty"`
	Items  []string          `json:"items,omitempty"`
	Ticked map[string]string `json:"ticked,omitempty"` // item -> who
	Done   bool              `json:"done"`
}

// Store keeps runs (the collector's state database).
type Store interface {
	SaveRun(ctx context.Context, r *Run) error
	LoadRuns(ctx context.Context) ([]*Run, error)
}

// Options configure a Runner.
type Options struct {
	Store     Store
	Runtime   *step.Runtime
	Playbooks func() map[string]*playbooks.Playbook
	// MaxConcurrent bounds the active runs (default 8).
	MaxConcurrent int
	Logger        *slog.Logger
	Now           func() time.Time
}

// Errors callers act on.
var (
	ErrKilled  = errors.New("runner: the kill switch is on: no playbook starts")
	ErrTooMany = errors.New("runner: too many active runs")
	ErrNoRun   = errors.New("runner: no such run")
	ErrNotNow  = errors.New("runner: the run is not waiting for that")
	// ErrStale: an approval of a step that is not the one waiting, or
	// of an older version of the run (a replayed or outdated request).
	ErrStale = errors.New("runner: that approval is not for the step the run waits on now")
)

// Runner runs playbooks.
type Runner struct {
	opts Options

	mu     sync.Mutex
	runs   map[string]*Run
	active map[string]string        // playbook|key -> run id
	wake   map[string]chan struct{} // run id -> signalled when its wait changes
	killed bool
	seq    int
	wg     sync.WaitGroup
}

// New loads the stored runs: waiting ones wait again, running ones are
// failed as interrupted. Call Resume to let the waiting ones go on.
func New(ctx context.Context, opts Options) (*Runner, error) {
	if opts.Store == nil || opts.Playbooks == nil || opts.Runtime == nil {
		return nil, errors.New("runner: Store, Playbooks and Runtime are required")
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Runner{opts: opts, runs: map[string]*Run{}, active: map[string]string{}, wake: map[string]chan struct{}{}}
	stored, err := opts.Store.LoadRuns(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	for _, run := range stored {
		r.runs[run.ID] = run
		r.seq = max(r.seq, len(r.runs))
		if run.State == Running {
			r.record(run, "bulwark", "run.interrupted", map[string]any{"step": run.Next,
				"error": "the collector stopped while this run was acting; it is failed, not resumed, so that no step runs twice"})
			run.State, run.Ended = Failed, opts.Now()
			if err := opts.Store.SaveRun(ctx, run); err != nil {
				return nil, fmt.Errorf("runner: %w", err)
			}
		}
		if run.State == Waiting {
			r.active[run.Playbook+"|"+run.Key] = run.ID
		}
	}
	return r, nil
}

// Resume lets the runs waiting for people go on when answered.
func (r *Runner) Resume(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, run := range r.runs {
		if run.State == Waiting {
			r.launch(ctx, run)
		}
	}
}

// Wait blocks until every run goroutine has returned (after ctx ended).
func (r *Runner) Wait() { r.wg.Wait() }

// Kill sets the kill switch: no playbook starts while it is on.
func (r *Runner) Kill(on bool) {
	r.mu.Lock()
	r.killed = on
	r.mu.Unlock()
}

// Start begins a run of pb, unless one with the same key exists (then that
// run is returned: the same alert never starts a playbook twice).
// Required inputs must be given (or be labels of the alert); others
// default.
func (r *Runner) Start(ctx context.Context, pb *playbooks.Playbook, key, trigger, drill, actor string, inputs, alert map[string]string) (*Run, error) {
	in := map[string]string{}
	for _, i := range pb.Inputs {
		v, ok := inputs[i.Name]
		if !ok {
			v, ok = alert[i.Name]
		}
		if !ok || v == "" {
			if i.Required {
				return nil, fmt.Errorf("runner: playbook %s needs input %q", pb.Name, i.Name)
			}
			v = i.Default
		}
		in[i.Name] = v
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.killed {
		return nil, ErrKilled
	}
	for _, old := range r.runs { // one run per playbook and key: an alert's instance starts it once
		if old.Playbook == pb.Name && old.Key == key {
			return r.copy(old), nil
		}
	}
	if len(r.active) >= r.opts.MaxConcurrent {
		return nil, ErrTooMany
	}
	r.seq++
	now := r.opts.Now()
	run := &Run{ID: fmt.Sprintf("%s-%s-%d", pb.Name, now.UTC().Format("20060102T150405"), r.seq), Playbook: pb.Name, Key: key,
		Trigger: trigger, Drill: drill, Inputs: in, Alert: alert, State: Running, Started: now}
	r.record(run, actor, "run.start", map[string]any{"trigger": trigger, "inputs": in, "drill": drill})
	if err := r.opts.Store.SaveRun(ctx, run); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	r.runs[run.ID] = run
	r.active[pb.Name+"|"+key] = run.ID
	r.launch(ctx, run)
	return r.copy(run), nil
}

// launch runs run in its own goroutine (r.mu held).
func (r *Runner) launch(ctx context.Context, run *Run) {
	r.wake[run.ID] = make(chan struct{}, 1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.execute(ctx, run)
	}()
}

// Get returns a copy of a run.
func (r *Runner) Get(id string) (*Run, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.runs[id]
	if !ok {
		return nil, false
	}
	return r.copy(run), true
}

// List returns copies of every run, newest first.
func (r *Runner) List() []*Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Run, 0, len(r.runs))
	for _, run := range r.runs {
		out = append(out, r.copy(run))
	}
	sortRuns(out)
	return out
}

// Approval answers an approval step.
type Approval struct {
	Run  string // the run's id
	Step string // the step approved: it must be the one the run waits on
	// Version, when not 0, is the run's version when the question was
	// asked (Slack's buttons carry it): an older one is refused.
	Version             int64
	User, Role, Comment string
}

// Approve answers the approval a run waits on, once: the step must be the
// one waiting (and the version the current one, when given), not yet
// approved, and the approver's role at least the step's.
func (r *Runner) Approve(ctx context.Context, a Approval) error {
	if a.Step == "" {
		return fmt.Errorf("runner: an approval must name the step it approves")
	}
	return r.answer(ctx, a.Run, func(run *Run, w *Wait) error {
		if w.Kind != "approval" || w.Step != a.Step {
			return fmt.Errorf("%w: run %s waits on %s %s, not on %s", ErrStale, run.ID, w.Kind, w.Step, a.Step)
		}
		if a.Version != 0 && a.Version != run.Version {
			return fmt.Errorf("%w: the question of step %s was asked at version %d of run %s, which is at %d now", ErrStale, a.Step, a.Version, run.ID, run.Version)
		}
		if w.Done {
			return fmt.Errorf("%w: step %s of run %s is approved already", ErrStale, a.Step, run.ID)
		}
		if !roleAtLeast(a.Role, w.Role) {
			return fmt.Errorf("runner: step %s needs the %s role, %s has %s", w.Step, w.Role, a.User, a.Role)
		}
		w.Done = true
		r.record(run, a.User, "step.approved", map[string]any{"step": w.Step, "comment": a.Comment, "version": run.Version})
		return nil
	})
}

// Tick ticks off an item of the checklist a run waits on. The item is
// named by its text or by its number in the listing, counted from 1;
// any other answer is refused with the items the run waits for.
func (r *Runner) Tick(ctx context.Context, id, user, item string) error {
	return r.answer(ctx, id, func(run *Run, w *Wait) error {
		if w.Kind != "checklist" {
			return fmt.Errorf("%w: run %s waits on %s %s, not on a checklist", ErrNotNow, run.ID, w.Kind, w.Step)
		}
		text, err := w.item(item)
		if err != nil {
			return fmt.Errorf("%w: run %s: %v; %s", ErrNotNow, run.ID, err, w.Listing())
		}
		if w.Ticked == nil {
			w.Ticked = map[string]string{}
		}
		w.Ticked[text] = user
		w.Done = len(w.Ticked) == len(w.Items)
		r.record(run, user, "step.ticked", map[string]any{"step": w.Step, "item": text})
		return nil
	})
}

// item resolves an answer to one of the checklist's items: its exact
// text, its text in any case when only one item matches, or its number
// counted from 1.
func (w *Wait) item(answer string) (string, error) {
	if slices.Contains(w.Items, answer) {
		return answer, nil
	}
	if n, err := strconv.Atoi(strings.TrimSpace(answer)); err == nil {
		if n < 1 || n > len(w.Items) {
			return "", fmt.Errorf("no item number %d: items are numbered from 1 to %d", n, len(w.Items))
		}
		return w.Items[n-1], nil
	}
	var found []string
	for _, it := range w.Items {
		if strings.EqualFold(strings.TrimSpace(answer), it) {
			found = append(found, it)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return "", fmt.Errorf("no item %q", answer)
}

// Listing says, numbered from 1, the items of the checklist waited on
// and who ticked which.
func (w *Wait) Listing() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checklist %s waits for:", w.Step)
	for i, it := range w.Items {
		fmt.Fprintf(&b, " %d. %q", i+1, it)
		if by, ok := w.Ticked[it]; ok {
			fmt.Fprintf(&b, " (ticked by %s)", by)
		}
		if i < len(w.Items)-1 {
			b.WriteByte(';')
		}
	}
	return b.String()
}

func (r *Runner) answer(ctx context.Context, id string, f func(*Run, *Wait) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	run, ok := r.runs[id]
	if !ok {
		return ErrNoRun
	}
	if run.State != Waiting || run.Wait == nil {
		return fmt.Errorf("%w: run %s is %s, waiting for nobody", ErrNotNow, run.ID, run.State)
	}
	if err := f(run, run.Wait); err != nil {
		return err
	}
	run.Version++ // the question answered is no longer the one asked
	if err := r.opts.Store.SaveRun(ctx, run); err != nil {
		return fmt.Errorf("runner: %w", err)
	}
	select {
	case r.wake[id] <- struct{}{}:
	default:
	}
	return nil
}

// record appends a chained entry to run's timeline (r.mu held, or run
// not yet shared).
func (r *Runner) record(run *Run, actor, action string, detail any) {
	prev := ""
	if n := len(run.Timeline); n > 0 {
		prev = run.Timeline[n-1].Hash
	}
	e := audit.Entry{Seq: int64(len(run.Timeline) + 1), At: r.opts.Now().UTC(), User: actor, Action: action, Detail: jsonOf(detail)}
	e.Chain(prev)
	run.Timeline = append(run.Timeline, e)
}
