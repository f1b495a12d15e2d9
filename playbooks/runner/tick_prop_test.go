package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/playbooks"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// Property (issue 23): over random checklists (items that look like
// numbers included) and random answers (numbers in and out of range,
// texts in any case, garbage), with restarts between answers: an answer
// that is an item's exact text ticks that item; else a number n in 1..N
// ticks item n; else one case-insensitive match ticks it; anything else
// is refused with ErrNotNow and the listing, and changes nothing; the
// run is done exactly when every item is ticked.
func TestTickProperty(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	words := []string{"backup taken", "Owner told", "2", "status page", "0", "ticket"}
	for round := range 8 {
		n := 1 + rng.IntN(4)
		items := make([]string, 0, n)
		for _, i := range rng.Perm(len(words))[:n] {
			items = append(items, words[i])
		}
		dir := t.TempDir()
		var quoted []string
		for _, it := range items {
			quoted = append(quoted, strconv.Quote(it))
		}
		file := filepath.Join(dir, "pb.yml")
		os.WriteFile(file, []byte("name: list\nowner: duty\ntriggers: [{manual: true}]\nsteps:\n  - name: check\n    checklist: {items: ["+strings.Join(quoted, ", ")+"]}\n"), 0o600)
		env := &step.Env{Roles: map[string]bool{"operator": true}}
		pb, err := playbooks.Load(file, env)
		if err != nil {
			t.Fatal(err)
		}
		pbs := map[string]*playbooks.Playbook{"list": pb}
		store := &memStore{}
		ctx, stop := context.WithCancel(context.Background())
		r, err := New(ctx, Options{Store: store, Runtime: &step.Runtime{Env: env}, Playbooks: func() map[string]*playbooks.Playbook { return pbs }})
		if err != nil {
			t.Fatal(err)
		}
		r.Resume(ctx)
		run, err := r.Start(ctx, pb, "k", "manual", "", "vera", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitKind(t, r, run.ID, "checklist")
		ticked := map[string]bool{}
		for i := 0; i < 12 && len(ticked) < len(items); i++ {
			if rng.IntN(5) == 0 { // the collector restarts
				stop()
				r.Wait()
				ctx, stop = context.WithCancel(context.Background())
				if r, err = New(ctx, Options{Store: store, Runtime: &step.Runtime{Env: env}, Playbooks: func() map[string]*playbooks.Playbook { return pbs }}); err != nil {
					t.Fatal(err)
				}
				r.Resume(ctx)
				waitKind(t, r, run.ID, "checklist")
			}
			var answer string
			switch rng.IntN(4) {
			case 0:
				answer = strconv.Itoa(rng.IntN(n + 2)) // 0..n+1
			case 1:
				answer = items[rng.IntN(n)]
			case 2:
				answer = strings.ToUpper(items[rng.IntN(n)])
			default:
				answer = fmt.Sprintf("nothing-%d", rng.IntN(3))
			}
			want := expectItem(items, answer)
			before, _ := r.Get(run.ID)
			err := r.Tick(ctx, run.ID, "otto", answer)
			after, _ := r.Get(run.ID)
			if want == "" {
				if !errors.Is(err, ErrNotNow) || !strings.Contains(err.Error(), "checklist check waits for: 1. ") || after.Version != before.Version {
					t.Fatalf("seed %d round %d: items %q, answer %q: %v (version %d -> %d), want a refusal that changes nothing", seed, round, items, answer, err, before.Version, after.Version)
				}
				continue
			}
			if err != nil {
				t.Fatalf("seed %d round %d: items %q, answer %q: %v, want %q ticked", seed, round, items, answer, err, want)
			}
			ticked[want] = true
			if len(ticked) < len(items) && (after.Wait == nil || after.Wait.Ticked[want] != "otto" || after.Wait.Done) {
				t.Fatalf("seed %d: items %q, answer %q: wait %+v", seed, items, answer, after.Wait)
			}
		}
		if len(ticked) == len(items) {
			waitState(t, r, run.ID, Succeeded)
		}
		stop()
		r.Wait()
	}
}

// expectItem is the model: which item an answer names, "" for none.
func expectItem(items []string, answer string) string {
	for _, it := range items {
		if it == answer {
			return it
		}
	}
	if k, err := strconv.Atoi(answer); err == nil {
		if k >= 1 && k <= len(items) {
			return items[k-1]
		}
		return ""
	}
	var found []string
	for _, it := range items {
		if strings.EqualFold(it, answer) {
			found = append(found, it)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}
