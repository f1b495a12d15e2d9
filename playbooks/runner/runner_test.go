package runner

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/playbooks"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// memStore keeps runs as JSON, as the state database does.
type memStore struct {
	mu   sync.Mutex
	runs map[string][]byte
}

func (m *memStore) SaveRun(_ context.Context, r *Run) error {
	b, _ := json.Marshal(r)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runs == nil {
		m.runs = map[string][]byte{}
	}
	m.runs[r.ID] = b
	return nil
}

func (m *memStore) LoadRuns(context.Context) ([]*Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Run
	for _, b := range m.runs {
		var r Run
		json.Unmarshal(b, &r)
		out = append(out, &r)
	}
	return out, nil
}

type world struct {
	store  *memStore
	told   chan string
	pbs    map[string]*playbooks.Playbook
	rt     *step.Runtime
	marker string
}

// newWorld loads a playbook: notify, an operator's approval, a two-item
// checklist, a recovery-protected call to a closed port, and an exec that
// leaves a marker file (not drill-safe).
func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	w := &world{store: &memStore{}, told: make(chan string, 16), marker: filepath.Join(dir, "renewed")}
	env := &step.Env{Receivers: map[string]bool{"cert-duty": true}, Roles: map[string]bool{"viewer": true, "operator": true, "admin": true},
		ExecAllow: []string{"/usr/bin/touch"}}
	file := filepath.Join(dir, "pb.yml")
	os.WriteFile(file, []byte(`name: renew
owner: cert-duty
triggers: [{manual: true}]
inputs: [{name: target, required: true}]
steps:
  - name: tell
    notify: {receiver: cert-duty, text: "renewing {{ .Inputs.target }}"}
  - name: approve
    approval: {role: operator}
  - name: checks
    checklist: {items: [backup taken, owner told]}
  - name: call-api
    http: {url: "http://`+closed+`/renew"}
    timeout: 5s
    on_failure: tell-fallback
  - name: renew
    exec: {command: /usr/bin/touch, args: ["`+w.marker+`"]}
recovery:
  - name: tell-fallback
    notify: {receiver: cert-duty, text: "the API is down: renewing by hand"}
`), 0o600)
	pb, err := playbooks.Load(file, env)
	if err != nil {
		t.Fatal(err)
	}
	w.pbs = map[string]*playbooks.Playbook{"renew": pb}
	w.rt = &step.Runtime{Env: env, Notify: func(_ context.Context, rcv, text string) error { w.told <- text; return nil }}
	return w
}

func (w *world) runner(t *testing.T, ctx context.Context) *Runner {
	t.Helper()
	r, err := New(ctx, Options{Store: w.store, Runtime: w.rt, Playbooks: func() map[string]*playbooks.Playbook { return w.pbs }})
	if err != nil {
		t.Fatal(err)
	}
	r.Resume(ctx)
	return r
}

// waitState polls until the run reaches state (or fails the test).
func waitState(t *testing.T, r *Runner, id, state string) *Run {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		run, _ := r.Get(id)
		if run.State == state {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s, want %s; timeline: %s", id, run.State, state, actions(run))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitKind polls until the run waits on a step of kind.
func waitKind(t *testing.T, r *Runner, id, kind string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		run, _ := r.Get(id)
		if run.State == Waiting && run.Wait != nil && run.Wait.Kind == kind && !run.Wait.Done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never waited on a %s: %s", id, kind, actions(run))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func actions(run *Run) string {
	var out []string
	for _, e := range run.Timeline {
		out = append(out, e.User+":"+e.Action)
	}
	return strings.Join(out, " ")
}

// Issue 11: a run waits for people, survives a restart while waiting (the
// approval given before it is kept), recovers from a failed step with its
// on_failure step, and leaves a hash-chained timeline that verifies.
func TestRunWithPeopleAndRestart(t *testing.T) {
	w := newWorld(t)
	ctx, stop := context.WithCancel(context.Background())
	r := w.runner(t, ctx)
	run, err := r.Start(ctx, w.pbs["renew"], "tax-portal", "manual", "", "vera", map[string]string{"target": "tax-portal"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Start(ctx, w.pbs["renew"], "tax-portal", "manual", "", "vera", map[string]string{"target": "tax-portal"}, nil); again.ID != run.ID {
		t.Errorf("the same key started a second run %s", again.ID)
	}
	if got := <-w.told; got != "renewing tax-portal" {
		t.Errorf("told %q", got)
	}
	waitKind(t, r, run.ID, "approval")
	if err := r.Approve(ctx, Approval{Run: run.ID, Step: "approve", User: "victor", Role: "viewer"}); err == nil {
		t.Error("a viewer approved an operator's step")
	}
	if err := r.Tick(ctx, run.ID, "otto", "backup taken"); !errors.Is(err, ErrNotNow) {
		t.Errorf("a tick while an approval is awaited: %v", err)
	}
	if err := r.Approve(ctx, Approval{Run: run.ID, Step: "approve", User: "otto", Role: "operator", Comment: "go"}); err != nil {
		t.Fatal(err)
	}
	// Waiting on the checklist now; the collector restarts.
	waitKind(t, r, run.ID, "checklist")
	if err := r.Tick(ctx, run.ID, "otto", "backup taken"); err != nil {
		t.Fatal(err)
	}
	stop()
	r.Wait()
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	r2 := w.runner(t, ctx2)
	waitKind(t, r2, run.ID, "checklist")
	if err := r2.Tick(ctx2, run.ID, "ada", "owner told"); err != nil {
		t.Fatal(err)
	}
	done := waitState(t, r2, run.ID, Succeeded)
	if _, err := os.Stat(w.marker); err != nil {
		t.Errorf("the exec step did not run: %v", err)
	}
	if got := <-w.told; got != "the API is down: renewing by hand" {
		t.Errorf("the recovery step told %q", got)
	}
	want := []string{"vera:run.start", "bulwark:step.ok", "otto:step.approved", "otto:step.ticked", "ada:step.ticked",
		"bulwark:step.failed", "bulwark:step.recover", "bulwark:run.succeeded"}
	for _, a := range want {
		if !strings.Contains(actions(done), a) {
			t.Errorf("timeline lacks %s: %s", a, actions(done))
		}
	}
	key, _ := audit.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err := audit.Verify(audit.Sign(done.Timeline, key, time.Now()), nil); err != nil {
		t.Errorf("the timeline does not verify: %v", err)
	}
}

// A drill records what would have acted instead of acting; a run acting
// when the collector stops is failed at the next start, said so; the
// kill switch refuses new runs.
func TestDrillInterruptAndKill(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r := w.runner(t, ctx)
	run, err := r.Start(ctx, w.pbs["renew"], "drill-1", "drill", "drill-1", "planner", map[string]string{"target": "tax-portal"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitKind(t, r, run.ID, "approval")
	if err := r.Approve(ctx, Approval{Run: run.ID, Step: "approve", User: "otto", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	waitKind(t, r, run.ID, "checklist")
	for _, item := range []string{"backup taken", "owner told"} {
		if err := r.Tick(ctx, run.ID, "otto", item); err != nil {
			t.Fatal(err)
		}
	}
	done := waitState(t, r, run.ID, Succeeded)
	if _, err := os.Stat(w.marker); err == nil {
		t.Error("the exec step acted during a drill")
	}
	if !strings.Contains(actions(done), "bulwark:step.would-run") {
		t.Errorf("no would-run entry: %s", actions(done))
	}
	// A run stored as acting: the collector died mid-step.
	stale := &Run{ID: "renew-x", Playbook: "renew", Key: "k", State: Running, Started: time.Now(), Next: 3}
	w.store.SaveRun(ctx, stale)
	r2 := w.runner(t, ctx)
	got, _ := r2.Get("renew-x")
	if got.State != Failed || !strings.Contains(actions(got), "run.interrupted") {
		t.Errorf("an interrupted run: %s %s", got.State, actions(got))
	}
	if _, err := r2.Start(ctx, w.pbs["renew"], "k3", "manual", "", "vera", nil, nil); err == nil || !strings.Contains(err.Error(), `needs input "target"`) {
		t.Errorf("a required input missing: %v", err)
	}
	r2.Kill(true)
	if _, err := r2.Start(ctx, w.pbs["renew"], "k2", "manual", "", "vera", map[string]string{"target": "x"}, nil); !errors.Is(err, ErrKilled) {
		t.Errorf("kill switch: %v", err)
	}
}
