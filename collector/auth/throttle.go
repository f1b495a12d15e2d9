package auth

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleOptions bound password guessing.
type ThrottleOptions struct {
	// UserFree and AddrFree are the failed logins allowed per login name
	// and per client address (an IPv6 /64) before each further failure
	// locks that key for twice as long as the last, from 1s up to MaxLock
	// (defaults 5, 20, 15m). Forget drops a key that has not failed for
	// that long (default 1h); Max bounds the keys kept (default 10,000).
	UserFree, AddrFree int
	MaxLock, Forget    time.Duration
	Max                int
	Now                func() time.Time
}

// Throttle counts failed logins per user and per address.
type Throttle struct {
	opts ThrottleOptions
	mu   sync.Mutex
	m    map[string]*strikes
}

type strikes struct {
	n     int
	last  time.Time
	until time.Time
}

// NewThrottle returns a throttle with o's bounds (zero fields: defaults).
func NewThrottle(o ThrottleOptions) *Throttle {
	o.UserFree = cmpOr(o.UserFree, 5)
	o.AddrFree = cmpOr(o.AddrFree, 20)
	o.MaxLock = cmpOr(o.MaxLock, 15*time.Minute)
	o.Forget = cmpOr(o.Forget, time.Hour)
	o.Max = cmpOr(o.Max, 10000)
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Throttle{opts: o, m: map[string]*strikes{}}
}

// AddrKey is the throttling key of a remote address: the host, or its /64
// for IPv6 (one machine holds a whole /64).
func AddrKey(remoteAddr string) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return "addr " + remoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "addr " + p.String()
	}
	return "addr " + a.String()
}

func throttleUser(name string) string {
	if len(name) > 64 {
		name = name[:64]
	}
	return "user " + strings.ToLower(name)
}

// Wait is how long user from addr must wait before trying again (0: may
// try now).
func (t *Throttle) Wait(user, addr string) time.Duration {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var w time.Duration
	for _, k := range []string{throttleUser(user), AddrKey(addr)} {
		if s := t.m[k]; s != nil && s.until.After(now) {
			w = max(w, s.until.Sub(now))
		}
	}
	return w
}

// Fail records a failed login; locked reports whether it locked a key.
func (t *Throttle) Fail(user, addr string) (locked bool) {
	now := t.opts.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gcLocked(now)
	for _, k := range []struct {
		key  string
		free int
	}{{throttleUser(user), t.opts.UserFree}, {AddrKey(addr), t.opts.AddrFree}} {
		s := t.m[k.key]
		if s == nil {
			s = &strikes{}
			t.m[k.key] = s
		}
		if now.Sub(s.last) >= t.opts.Forget {
			s.n = 0
		}
		s.n++
		s.last = now
		if over := s.n - k.free; over > 0 {
			lock := time.Second << min(over-1, 30)
			s.until = now.Add(min(lock, t.opts.MaxLock))
			locked = true
		}
	}
	return locked
}

// Succeed forgets the failures of user (not of the address: one good
// password must not reset an address guessing at other users).
func (t *Throttle) Succeed(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, throttleUser(user))
}

// gcLocked forgets keys idle for Forget, then the stalest when over Max.
func (t *Throttle) gcLocked(now time.Time) {
	if len(t.m) < t.opts.Max {
		return
	}
	for k, s := range t.m {
		if now.Sub(s.last) >= t.opts.Forget && !s.until.After(now) {
			delete(t.m, k)
		}
	}
	for len(t.m) >= t.opts.Max {
		var ok string
		var oldest time.Time
		for k, s := range t.m {
			if ok == "" || s.last.Before(oldest) {
				ok, oldest = k, s.last
			}
		}
		delete(t.m, ok)
	}
}
