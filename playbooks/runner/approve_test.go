package runner

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/playbooks"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// escalation is issue 19 item 8's playbook: an operator's approval, an
// admin's, then an exec that leaves a marker.
func escalation(t *testing.T) (*memStore, *step.Runtime, map[string]*playbooks.Playbook, string) {
	t.Helper()
	dir := t.TempDir()
	marker := filepath.Join(dir, "moved")
	env := &step.Env{Roles: map[string]bool{"viewer": true, "operator": true, "admin": true}, ExecAllow: []string{"/usr/bin/touch"}}
	file := filepath.Join(dir, "pb.yml")
	os.WriteFile(file, []byte(`name: failover
owner: cert-duty
triggers: [{manual: true}]
steps:
  - name: op-ok
    approval: {role: operator}
  - name: admin-ok
    approval: {role: admin}
  - name: move
    exec: {command: /usr/bin/touch, args: ["`+marker+`"]}
`), 0o600)
	pb, err := playbooks.Load(file, env)
	if err != nil {
		t.Fatal(err)
	}
	return &memStore{}, &step.Runtime{Env: env}, map[string]*playbooks.Playbook{"failover": pb}, marker
}

func newRunner(t *testing.T, ctx context.Context, st *memStore, rt *step.Runtime, pbs map[string]*playbooks.Playbook) *Runner {
	t.Helper()
	r, err := New(ctx, Options{Store: st, Runtime: rt, Playbooks: func() map[string]*playbooks.Playbook { return pbs }})
	if err != nil {
		t.Fatal(err)
	}
	r.Resume(ctx)
	return r
}

// settle polls until the run waits on an unanswered step or has ended.
func settle(t *testing.T, r *Runner, id string) *Run {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		run, _ := r.Get(id)
		if run.State == Succeeded || run.State == Failed || run.State == Waiting && run.Wait != nil && !run.Wait.Done {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not settle: %s %s", id, run.State, actions(run))
		}
		time.Sleep(time.Millisecond)
	}
}

// Issue 19 item 8, in the runner: the approval of one step, sent again,
// approves nothing: not the step after it (it names its step), not the
// same step twice; an approval of an older version is refused; a restart
// keeps the version of the step still waiting, so its question stays
// good, while the replay stays refused.
func TestApprovalNamesStepAndVersion(t *testing.T) {
	st, rt, pbs, marker := escalation(t)
	ctx, stop := context.WithCancel(context.Background())
	r := newRunner(t, ctx, st, rt, pbs)
	run, err := r.Start(ctx, pbs["failover"], "k", "manual", "", "otto", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := settle(t, r, run.ID)
	if first.Wait == nil || first.Wait.Step != "op-ok" || first.Version == 0 {
		t.Fatalf("waits on %+v at version %d", first.Wait, first.Version)
	}
	click := Approval{Run: run.ID, Step: "op-ok", Version: first.Version, User: "ada", Role: "admin", Comment: "from Slack"}
	if err := r.Approve(ctx, Approval{Run: run.ID, User: "ada", Role: "admin"}); err == nil {
		t.Error("an approval naming no step was accepted")
	}
	if err := r.Approve(ctx, click); err != nil {
		t.Fatal(err)
	}
	second := settle(t, r, run.ID)
	if second.Wait == nil || second.Wait.Step != "admin-ok" || second.Version <= first.Version {
		t.Fatalf("waits on %+v at version %d", second.Wait, second.Version)
	}
	if err := r.Approve(ctx, click); !errors.Is(err, ErrStale) {
		t.Errorf("the replayed approval: %v", err)
	}
	if err := r.Approve(ctx, Approval{Run: run.ID, Step: "admin-ok", Version: first.Version, User: "ada", Role: "admin"}); !errors.Is(err, ErrStale) {
		t.Errorf("an approval of the admin step at the first step's version: %v", err)
	}
	stop()
	r.Wait()
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	r2 := newRunner(t, ctx2, st, rt, pbs)
	again := settle(t, r2, run.ID)
	if again.Wait == nil || again.Wait.Step != "admin-ok" || again.Version != second.Version {
		t.Fatalf("after a restart: waits on %+v at version %d, was %d", again.Wait, again.Version, second.Version)
	}
	if err := r2.Approve(ctx2, click); !errors.Is(err, ErrStale) {
		t.Errorf("the replayed approval after a restart: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the exec ran")
	}
	if err := r2.Approve(ctx2, Approval{Run: run.ID, Step: "admin-ok", Version: second.Version, User: "otto", Role: "operator"}); err == nil || errors.Is(err, ErrStale) {
		t.Errorf("an operator approved the admin step: %v", err)
	}
	if err := r2.Approve(ctx2, Approval{Run: run.ID, Step: "admin-ok", Version: second.Version, User: "ada", Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	if done := settle(t, r2, run.ID); done.State != Succeeded {
		t.Fatalf("run %s: %s", done.State, actions(done))
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the exec did not run after both approvals: %v", err)
	}
}

// Property (issue 19 item 8): over random sequences of approvals (right
// and wrong steps, roles and versions), replays of approvals sent before,
// and restarts (settled, or while the run acts), a step is approved at
// most once, only by a user with its role, exactly when the model says;
// the version never goes back; and the exec never starts before both
// approvals are in the timeline.
func TestApprovalProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 19))
	roles := []string{"viewer", "operator", "admin"}
	stepRole := map[string]string{"op-ok": "operator", "admin-ok": "admin"}
	steps := []string{"op-ok", "admin-ok", "move", "nope"}
	for seq := range 60 {
		st, rt, pbs, marker := escalation(t)
		ctx, stop := context.WithCancel(context.Background())
		r := newRunner(t, ctx, st, rt, pbs)
		run, err := r.Start(ctx, pbs["failover"], "k", "manual", "", "otto", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := run.ID
		var sent []Approval
		lastVersion := int64(0)
		cur := settle(t, r, id)
		for ev := range 14 {
			switch k := rng.IntN(10); {
			case k < 2: // restart: settled, or right after an approval (the run may be acting)
				if k == 1 && cur.State == Waiting {
					role := roles[rng.IntN(3)]
					r.Approve(ctx, Approval{Run: id, Step: cur.Wait.Step, Version: cur.Version, User: "u-" + role, Role: role})
				}
				stop()
				r.Wait()
				ctx, stop = context.WithCancel(context.Background())
				r = newRunner(t, ctx, st, rt, pbs)
			default:
				var a Approval
				if len(sent) > 0 && rng.IntN(3) == 0 {
					a = sent[rng.IntN(len(sent))] // a replay
				} else {
					role := roles[rng.IntN(3)]
					a = Approval{Run: id, Step: steps[rng.IntN(len(steps))], User: "u-" + role, Role: role}
					if cur.Wait != nil && rng.IntN(2) == 0 {
						a.Step = cur.Wait.Step
					}
					a.Version = []int64{cur.Version, cur.Version, cur.Version - 1, cur.Version + 1, 0}[rng.IntN(5)]
				}
				want := cur.State == Waiting && cur.Wait.Kind == "approval" && cur.Wait.Step == a.Step && !cur.Wait.Done &&
					(a.Version == 0 || a.Version == cur.Version) && roleAtLeast(a.Role, stepRole[a.Step])
				err := r.Approve(ctx, a)
				if (err == nil) != want {
					t.Fatalf("seed %d seq %d event %d: approve %+v on %s %+v v%d: err %v, model says accept=%v", seed, seq, ev, a, cur.State, cur.Wait, cur.Version, err, want)
				}
				sent = append(sent, a)
			}
			cur = settle(t, r, id)
			if cur.Version < lastVersion {
				t.Fatalf("seed %d seq %d: version went back from %d to %d", seed, seq, lastVersion, cur.Version)
			}
			lastVersion = cur.Version
			checkApprovals(t, cur, stepRole, marker, seed, seq)
		}
		stop()
		r.Wait()
	}
}

// checkApprovals checks the invariants of a run's timeline.
func checkApprovals(t *testing.T, run *Run, stepRole map[string]string, marker string, seed uint64, seq int) {
	t.Helper()
	approved := map[string]bool{}
	for _, e := range run.Timeline {
		var d struct{ Step string }
		json.Unmarshal(e.Detail, &d)
		switch e.Action {
		case "step.approved":
			if approved[d.Step] {
				t.Fatalf("seed %d seq %d: step %s approved twice: %s", seed, seq, d.Step, actions(run))
			}
			approved[d.Step] = true
			if !roleAtLeast(strings.TrimPrefix(e.User, "u-"), stepRole[d.Step]) {
				t.Fatalf("seed %d seq %d: %s approved %s: %s", seed, seq, e.User, d.Step, actions(run))
			}
		case "step.start":
			if d.Step == "move" && !(approved["op-ok"] && approved["admin-ok"]) {
				t.Fatalf("seed %d seq %d: the exec started without both approvals: %s", seed, seq, actions(run))
			}
		}
	}
	if _, err := os.Stat(marker); err == nil && !(approved["op-ok"] && approved["admin-ok"]) {
		t.Fatalf("seed %d seq %d: the exec ran without both approvals: %s", seed, seq, actions(run))
	}
}
