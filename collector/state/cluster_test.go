package state

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Leases and claims decide once across instances: a lease is held by one
// until it expires; a claim is granted once, again to its holder, and to
// another only when the holder is dead, let it expire, or released it.
func TestClusterLeasesAndClaims(t *testing.T) {
	eachDriver(t, func(t *testing.T, o Options) {
		db := mustOpen(t, o)
		ctx := context.Background()
		t0 := time.UnixMilli(1_790_000_000_000)
		for _, m := range []Member{{Instance: "a1", Member: "a"}, {Instance: "b1", Member: "b"}} {
			m.Started, m.LastSeen = t0, t0
			if err := db.Beat(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		lease := func(inst string, at time.Time) bool {
			ok, err := db.AcquireLease(ctx, "heartbeat", inst, inst[:1], at, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !lease("a1", t0) || lease("b1", t0.Add(time.Second)) || !lease("a1", t0.Add(5*time.Second)) {
			t.Fatal("lease: a takes it, b is refused, a renews")
		}
		if lease("b1", t0.Add(14*time.Second)) || !lease("b1", t0.Add(16*time.Second)) || lease("a1", t0.Add(17*time.Second)) {
			t.Fatal("lease: b takes it once a's renewal expired, and holds it")
		}
		claim := func(inst string, at time.Time) (string, error) {
			return db.Claim(ctx, ClaimRequest{Item: "x", What: "firing 1", Instance: inst, Member: inst[:1], Now: at,
				Hold: time.Minute, DeadBefore: at.Add(-10 * time.Second)})
		}
		if from, err := claim("a1", t0); err != nil || from != "" {
			t.Fatalf("first claim: %q %v", from, err)
		}
		if _, err := claim("b1", t0.Add(time.Second)); !errors.Is(err, ErrClaimed) {
			t.Fatalf("claim of a live holder's item: %v", err)
		}
		if from, err := claim("a1", t0.Add(2*time.Second)); err != nil || from != "" {
			t.Fatalf("the holder again: %q %v", from, err)
		}
		// a is not seen for 10 s: b takes over, and is told from whom.
		if from, err := claim("b1", t0.Add(11*time.Second)); err != nil || from != "a1" {
			t.Fatalf("takeover from a dead holder: %q %v", from, err)
		}
		if err := db.Settle(ctx, "x", "b1", true, t0.Add(12*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := claim("a1", t0.Add(30*time.Second)); !errors.Is(err, ErrClaimed) {
			t.Fatalf("claim of a done item: %v", err)
		}
		if from, err := claim("a1", t0.Add(time.Hour)); err != nil || from != "" {
			t.Fatalf("claim of a done item past its hold: %q %v", from, err)
		}
		db.Settle(ctx, "x", "a1", true, t0.Add(time.Hour))
		// Released, an item is free at once; an unsettled one past its hold too.
		if _, err := db.Claim(ctx, ClaimRequest{Item: "y", Instance: "a1", Now: t0, Hold: time.Minute}); err != nil {
			t.Fatal(err)
		}
		db.Settle(ctx, "y", "a1", false, t0)
		if from, err := db.Claim(ctx, ClaimRequest{Item: "y", Instance: "b1", Now: t0, Hold: time.Minute, DeadBefore: t0.Add(-time.Hour)}); err != nil || from != "" {
			t.Fatalf("claim of a released item: %q %v", from, err)
		}
		if from, err := db.Claim(ctx, ClaimRequest{Item: "y", Instance: "a1", Now: t0.Add(61 * time.Second), Hold: time.Minute, DeadBefore: t0.Add(-time.Hour)}); err != nil || from != "b1" {
			t.Fatalf("claim past its hold: %q %v", from, err)
		}
		ms, err := db.Members(ctx)
		if err != nil || len(ms) != 2 {
			t.Fatalf("members %v %v", ms, err)
		}
		if err := db.Leave(ctx, "b1", t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		ls, _ := db.Leases(ctx)
		ms, _ = db.Members(ctx)
		if len(ls) != 0 || len(ms) != 1 {
			t.Fatalf("after b left: leases %v members %v", ls, ms)
		}
		if n, err := db.GCClaims(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
			t.Fatalf("claims GC: %d %v", n, err)
		}
	})
}
