package auth

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Sessions against a model over random sequences of logins, uses,
// logouts and clock steps: a session answers exactly while it was neither
// deleted, evicted (the oldest of a user past PerUser), idle for Idle nor
// older than Absolute; no user ever holds more than PerUser.
func TestSessionsProperty(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for run := range 50 {
		c := &clock{time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
		o := SessionOptions{Idle: 10 * time.Minute, Absolute: time.Hour, PerUser: 3, Max: 1000, Now: c.now}
		s, _ := NewSessions(o)
		type model struct {
			id, user      string
			created, seen time.Time
			dead          bool
		}
		var ms []*model
		live := func(m *model) bool {
			return !m.dead && c.t.Sub(m.seen) < o.Idle && c.t.Sub(m.created) < o.Absolute
		}
		users := []string{"ada", "otto"}
		for step := range 300 {
			c.t = c.t.Add(time.Duration(1 + rng.IntN(int(time.Minute))))
			c.t = c.t.Add(time.Duration(rng.IntN(2)) * time.Minute)
			switch op := rng.IntN(10); {
			case op < 3: // login
				u := users[rng.IntN(len(users))]
				var mine []*model
				for _, m := range ms {
					if m.user == u && live(m) {
						mine = append(mine, m)
					}
				}
				for len(mine) >= o.PerUser {
					old := mine[0]
					for _, m := range mine[1:] {
						if m.seen.Before(old.seen) {
							old = m
						}
					}
					old.dead = true
					mine = mine[:0]
					for _, m := range ms {
						if m.user == u && live(m) {
							mine = append(mine, m)
						}
					}
				}
				id, _ := s.Create(u, [32]byte{})
				ms = append(ms, &model{id: id, user: u, created: c.t, seen: c.t})
			case op < 8 && len(ms) > 0: // use
				m := ms[rng.IntN(len(ms))]
				want := live(m)
				if _, got := s.Get(m.id); got != want {
					t.Fatalf("run %d step %d: Get of a session created %v, seen %v at %v: %v, model says %v",
						run, step, m.created, m.seen, c.t, got, want)
				}
				if want {
					m.seen = c.t
				} else {
					m.dead = true
				}
			case len(ms) > 0: // logout
				m := ms[rng.IntN(len(ms))]
				if got := s.Delete(m.id); got && !live(m) {
					// An expired session not yet swept may still be deleted; a dead one may not.
					if m.dead {
						t.Fatalf("run %d step %d: deleted a session the model had ended", run, step)
					}
				}
				m.dead = true
			}
			count := map[string]int{}
			for _, m := range ms {
				if live(m) {
					count[m.user]++
				}
			}
			for u, n := range count {
				if n > o.PerUser {
					t.Fatalf("run %d step %d: %s holds %d sessions", run, step, u, n)
				}
			}
		}
	}
}

// The throttle over random failures and successes: a lock never exceeds
// MaxLock, a name with at most UserFree failures since its last success
// from an address with at most AddrFree is never locked.
func TestThrottleProperty(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	c := &clock{time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	o := ThrottleOptions{UserFree: 3, AddrFree: 2000, MaxLock: time.Minute, Forget: 24 * time.Hour, Now: c.now}
	th := NewThrottle(o)
	fails, addrFails := map[string]int{}, 0
	for step := range 5000 {
		c.t = c.t.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		u := []string{"ada", "otto", "vera"}[rng.IntN(3)]
		addr := "192.0.2.1:1"
		w := th.Wait(u, addr)
		if w > o.MaxLock {
			t.Fatalf("step %d: wait %v over MaxLock", step, w)
		}
		if fails[u] <= o.UserFree && addrFails <= o.AddrFree && w > 0 {
			t.Fatalf("step %d: %s locked %v after %d failures (%d from its address)", step, u, w, fails[u], addrFails)
		}
		if rng.IntN(5) == 0 {
			th.Succeed(u)
			fails[u] = 0
		} else {
			th.Fail(u, addr)
			fails[u]++
			addrFails++
		}
	}
}
