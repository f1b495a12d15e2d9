package slack

import (
	"sync"
	"time"
)

// Tolerance is how far from now a request's timestamp may be for Slack's
// signature check (slack.NewSecretsVerifier): within it, a captured
// request verifies again.
const Tolerance = 5 * time.Minute

// DefaultReplayEntries bounds a ReplayCache made with max 0: far more
// clicks than people make within twice the Tolerance.
const DefaultReplayEntries = 10000

// ReplayCache remembers the signatures of the requests accepted, each
// until its timestamp is out of Slack's tolerance (it would no longer
// verify), so that a signed request is accepted once. It is bounded: when
// full of live entries it refuses new requests rather than forget one.
type ReplayCache struct {
	mu        sync.Mutex
	max       int
	now       func() time.Time
	seen      map[string]time.Time // signature -> when it stops verifying
	nextSweep time.Time
	soonest   time.Time // no entry stops verifying before this
}

// NewReplayCache makes a cache of at most max entries (0: the default);
// now is the clock (nil: time.Now).
func NewReplayCache(max int, now func() time.Time) *ReplayCache {
	if max <= 0 {
		max = DefaultReplayEntries
	}
	if now == nil {
		now = time.Now
	}
	return &ReplayCache{max: max, now: now, seen: map[string]time.Time{}}
}

// Replay answers for Accept.
type Replay int

const (
	// Fresh: not seen before, now remembered.
	Fresh Replay = iota
	// Replayed: accepted before.
	Replayed
	// Full: the cache holds max live entries; the request is refused.
	Full
)

// Accept remembers the signature of a request stamped at ts and says
// whether it was new.
func (c *ReplayCache) Accept(signature string, ts time.Time) Replay {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.seen[signature]; ok {
		return Replayed
	}
	// Sweep once a minute, or when full and an entry may have expired
	// (not at every request while full: that would cost O(max) each).
	if now.After(c.nextSweep) || len(c.seen) >= c.max && now.After(c.soonest) {
		c.soonest = time.Time{}
		for s, until := range c.seen {
			if now.After(until) {
				delete(c.seen, s)
			} else if c.soonest.IsZero() || until.Before(c.soonest) {
				c.soonest = until
			}
		}
		c.nextSweep = now.Add(time.Minute)
	}
	if len(c.seen) >= c.max {
		return Full
	}
	// A second of margin for the verifier's rounding of the timestamp.
	until := ts.Add(Tolerance + time.Second)
	c.seen[signature] = until
	if c.soonest.IsZero() || until.Before(c.soonest) {
		c.soonest = until
	}
	return Fresh
}

// Len is the number of signatures remembered.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
