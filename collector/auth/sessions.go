package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"
)

// SessionCookie is the console's session cookie.
const SessionCookie = "bulwark_session"

// SessionOptions bound console sessions.
type SessionOptions struct {
	// Idle ends a session unused this long (default 30m); Absolute ends
	// every session this long after its login (default 12h).
	Idle, Absolute time.Duration
	// Max is the most sessions kept (default 10,000); PerUser the most
	// one user holds (default 20). The oldest go first.
	Max, PerUser int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Session is a console login kept on the server; the browser holds only
// its random id.
type Session struct {
	User    string
	CSRF    string // the synchronizer token of its forms
	Created time.Time
	seen    time.Time
	fp      [32]byte // fingerprint of the password hash logged in with
	key     [32]byte // SHA-256 of the id
}

// Sessions is the server-side session store. Ids are 256 random bits; the
// store keeps only their SHA-256, so a lookup leaks no timing about an id.
// Sessions live in memory: a restart logs everyone out.
type Sessions struct {
	opts SessionOptions
	mu   sync.Mutex
	m    map[[32]byte]*Session
}

// NewSessions returns an empty store.
func NewSessions(o SessionOptions) (*Sessions, error) {
	if o.Idle < 0 || o.Absolute < 0 || o.Max < 0 || o.PerUser < 0 {
		return nil, errors.New("auth: session bounds must not be negative")
	}
	o.Idle = cmpOr(o.Idle, 30*time.Minute)
	o.Absolute = cmpOr(o.Absolute, 12*time.Hour)
	o.Max = cmpOr(o.Max, 10000)
	o.PerUser = cmpOr(o.PerUser, 20)
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sessions{opts: o, m: map[[32]byte]*Session{}}, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Create starts a session for user and returns its new id. The id is
// always made here, never taken from the request (no session fixation).
func (s *Sessions) Create(user string, fp [32]byte) (string, Session) {
	id := randomToken()
	now := s.opts.Now()
	ss := &Session{User: user, CSRF: randomToken(), Created: now, seen: now, fp: fp, key: sha256.Sum256([]byte(id))}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked(now)
	var mine []*Session
	for _, o := range s.m {
		if o.User == user {
			mine = append(mine, o)
		}
	}
	for len(mine) >= s.opts.PerUser {
		old := oldest(mine)
		delete(s.m, old.key)
		mine = deleteSession(mine, old)
	}
	if len(s.m) >= s.opts.Max {
		all := make([]*Session, 0, len(s.m))
		for _, o := range s.m {
			all = append(all, o)
		}
		delete(s.m, oldest(all).key)
	}
	s.m[ss.key] = ss
	return id, *ss
}

func oldest(l []*Session) *Session {
	o := l[0]
	for _, x := range l[1:] {
		if x.seen.Before(o.seen) {
			o = x
		}
	}
	return o
}

func deleteSession(l []*Session, x *Session) []*Session {
	for i, y := range l {
		if y == x {
			return append(l[:i], l[i+1:]...)
		}
	}
	return l
}

func (s *Sessions) expired(ss *Session, now time.Time) bool {
	return now.Sub(ss.seen) >= s.opts.Idle || now.Sub(ss.Created) >= s.opts.Absolute
}

// gcLocked drops expired sessions.
func (s *Sessions) gcLocked(now time.Time) {
	for k, ss := range s.m {
		if s.expired(ss, now) {
			delete(s.m, k)
		}
	}
}

// Get returns the live session of id and marks it used; an expired one is
// deleted.
func (s *Sessions) Get(id string) (Session, bool) {
	if id == "" {
		return Session{}, false
	}
	k := sha256.Sum256([]byte(id))
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[k]
	if !ok {
		return Session{}, false
	}
	if s.expired(ss, now) {
		delete(s.m, k)
		return Session{}, false
	}
	ss.seen = now
	return *ss, true
}

// Delete ends the session of id (logout); it reports whether there was one.
func (s *Sessions) Delete(id string) bool {
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[k]
	delete(s.m, k)
	return ok
}

// Len is the number of sessions kept, expired ones included until swept.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// SetCookie hands the browser the session id: HttpOnly, SameSite=Strict,
// Secure when served over TLS, for no longer than the absolute lifetime.
func (s *Sessions) SetCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.opts.Absolute / time.Second)})
}

// ClearCookie tells the browser to forget the session cookie.
func ClearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// SessionID is the session cookie of r ("" when none).
func SessionID(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}
