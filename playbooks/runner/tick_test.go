package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/bulwarkhq/bulwark/playbooks"
)

// Issue 23: `tick RUN 0` and `tick RUN 1` were refused without saying
// what the run waits for. An item is named by its text or by its number
// in the listing, counted from 1; a miss lists the items.
func TestTickByNumberOrText(t *testing.T) {
	w := newWorld(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r := w.runner(t, ctx)
	run, err := r.Start(ctx, w.pbs["renew"], "k", "manual", "", "vera", map[string]string{"target": "tax-portal"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-w.told
	waitKind(t, r, run.ID, "approval")
	err = r.Tick(ctx, run.ID, "otto", "1")
	if !errors.Is(err, ErrNotNow) || !strings.Contains(err.Error(), "waits on approval approve, not on a checklist") {
		t.Errorf("a tick while an approval is awaited: %v", err)
	}
	if err := r.Approve(ctx, Approval{Run: run.ID, Step: "approve", User: "otto", Role: "operator"}); err != nil {
		t.Fatal(err)
	}
	waitKind(t, r, run.ID, "checklist")
	for answer, want := range map[string]string{
		"0":           `no item number 0: items are numbered from 1 to 2; checklist checks waits for: 1. "backup taken"; 2. "owner told"`,
		"3":           `no item number 3: items are numbered from 1 to 2`,
		"backup":      `no item "backup"; checklist checks waits for: 1. "backup taken"; 2. "owner told"`,
		"owner told!": `1. "backup taken"; 2. "owner told"`,
	} {
		err := r.Tick(ctx, run.ID, "otto", answer)
		if !errors.Is(err, ErrNotNow) || !strings.Contains(err.Error(), want) {
			t.Errorf("tick %q: %v\nwant it to say %s", answer, err, want)
		}
	}
	if err := r.Tick(ctx, run.ID, "otto", "1"); err != nil {
		t.Fatalf("tick 1: %v", err)
	}
	cur, _ := r.Get(run.ID)
	if cur.Wait.Ticked["backup taken"] != "otto" || cur.Wait.Done {
		t.Errorf("after tick 1: %+v", cur.Wait)
	}
	err = r.Tick(ctx, run.ID, "ada", "7")
	if err == nil || !strings.Contains(err.Error(), `1. "backup taken" (ticked by otto); 2. "owner told"`) {
		t.Errorf("the listing does not say what is ticked: %v", err)
	}
	if err := r.Tick(ctx, run.ID, "ada", "OWNER TOLD"); err != nil {
		t.Fatalf("tick by text in another case: %v", err)
	}
	done := waitState(t, r, run.ID, Succeeded)
	if !strings.Contains(actions(done), "ada:step.ticked") {
		t.Errorf("timeline: %s", actions(done))
	}
	if err := r.Tick(ctx, run.ID, "ada", "1"); !errors.Is(err, ErrNotNow) || !strings.Contains(err.Error(), "is succeeded, waiting for nobody") {
		t.Errorf("a tick of a finished run: %v", err)
	}
}

// Issue 23: a step that recovers never runs on the success path, even in
// a playbook that was not checked (checking refuses it).
func TestRecoveryStepNotOnSuccessPath(t *testing.T) {
	var pb playbooks.Playbook
	if err := yaml.Unmarshal([]byte(`name: portal
owner: duty
triggers: [{manual: true}]
steps:
  - name: tell
    notify: {receiver: cert-duty, text: hello}
    on_failure: fallback
  - name: fallback
    notify: {receiver: cert-duty, text: fallback}
`), &pb); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	w.pbs["portal"] = &pb
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r := w.runner(t, ctx)
	run, err := r.Start(ctx, &pb, "k", "manual", "", "vera", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := waitState(t, r, run.ID, Succeeded)
	if got := <-w.told; got != "hello" {
		t.Errorf("told %q", got)
	}
	select {
	case got := <-w.told:
		t.Errorf("the recovery step ran on the success path: told %q", got)
	default:
	}
	if !strings.Contains(actions(done), "bulwark:step.skipped") {
		t.Errorf("timeline: %s", actions(done))
	}
}
