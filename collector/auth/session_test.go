package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cheap keeps the tests fast; the parser accepts any cost within bounds.
var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q", h)
	}
	if err := VerifyPassword(h, "correct horse"); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := VerifyPassword(h, "correct horsE"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if h2, _ := HashPassword("correct horse", cheap); h2 == h {
		t.Error("two hashes of one password share a salt")
	}
	b, _ := bcrypt.GenerateFromPassword([]byte("battery staple"), bcrypt.MinCost)
	if err := VerifyPassword(string(b), "battery staple"); err != nil {
		t.Errorf("bcrypt: %v", err)
	}
	if err := VerifyPassword(string(b), "battery stapler"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("bcrypt wrong password: %v", err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA"} {
		if err := ParsePasswordHash(bad); err == nil {
			t.Errorf("hash %q accepted", bad)
		}
	}
	if _, err := HashPassword("short", cheap); err == nil {
		t.Error("a 5-byte password hashed")
	}
}

func TestCheckPassword(t *testing.T) {
	us := NewUsers()
	h, _ := HashPassword("operator-pass", cheap)
	if err := us.AddPassword(h, User{"otto", RoleOperator}); err != nil {
		t.Fatal(err)
	}
	if err := us.AddPassword(h, User{"otto", RoleOperator}); err == nil {
		t.Error("two passwords for one user")
	}
	if u, _, err := us.CheckPassword("otto", "operator-pass"); err != nil || u.Role != RoleOperator {
		t.Errorf("login: %v %v", u, err)
	}
	if _, _, err := us.CheckPassword("otto", "nope-nope"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if _, _, err := us.CheckPassword("nobody", "operator-pass"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user: %v", err)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSessionExpiry(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
	s, _ := NewSessions(SessionOptions{Idle: 10 * time.Minute, Absolute: time.Hour, PerUser: 2, Now: c.now})
	id, ss := s.Create("otto", [32]byte{})
	if len(id) < 43 || ss.CSRF == "" || ss.CSRF == id {
		t.Fatalf("id %q csrf %q", id, ss.CSRF)
	}
	for range 6 { // used every 9 minutes: idle never reached
		c.t = c.t.Add(9 * time.Minute)
		if _, ok := s.Get(id); !ok {
			t.Fatalf("session ended while in use at %v", c.t)
		}
	}
	c.t = c.t.Add(9 * time.Minute) // 63 minutes after login: past the absolute limit
	if _, ok := s.Get(id); ok {
		t.Error("session outlived its absolute lifetime")
	}
	id, _ = s.Create("otto", [32]byte{})
	c.t = c.t.Add(10 * time.Minute)
	if _, ok := s.Get(id); ok {
		t.Error("session outlived its idle lifetime")
	}
	a, _ := s.Create("otto", [32]byte{})
	c.t = c.t.Add(time.Second)
	s.Create("otto", [32]byte{})
	s.Create("otto", [32]byte{})
	if _, ok := s.Get(a); ok {
		t.Error("a third session of one user kept the oldest (PerUser 2)")
	}
	if s.Delete(a) {
		t.Error("deleted a session already evicted")
	}
}

func TestThrottle(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}
	th := NewThrottle(ThrottleOptions{UserFree: 3, AddrFree: 5, Now: c.now})
	for i := range 3 {
		if w := th.Wait("otto", "192.0.2.1:1000"); w != 0 {
			t.Fatalf("attempt %d must wait %v", i, w)
		}
		th.Fail("otto", "192.0.2.1:1000")
	}
	// The third failure used the allowance; the fourth locks for 1s, the fifth 2s.
	th.Fail("otto", "192.0.2.1:1000")
	if w := th.Wait("otto", "192.0.2.9:1"); w != time.Second {
		t.Errorf("user lock %v from another address, want 1s", w)
	}
	if w := th.Wait("vera", "192.0.2.9:1"); w != 0 {
		t.Errorf("another user from another address waits %v", w)
	}
	c.t = c.t.Add(time.Second)
	th.Fail("otto", "192.0.2.1:1000")
	if w := th.Wait("otto", "192.0.2.9:1"); w != 2*time.Second {
		t.Errorf("second lock %v, want 2s", w)
	}
	// The address: 5 free failures across user names, then locked for all names.
	if w := th.Wait("ada", "192.0.2.1:2000"); w != 0 {
		t.Errorf("address locked after its 5 free failures: %v", w)
	}
	th.Fail("ada", "192.0.2.1:2000")
	if w := th.Wait("ada", "192.0.2.1:2000"); w != time.Second {
		t.Errorf("address lock %v, want 1s", w)
	}
	// IPv6 neighbours in one /64 share a key.
	for range 6 {
		th.Fail("x", "[2001:db8::1]:1")
	}
	if w := th.Wait("y", "[2001:db8::ffff]:2"); w == 0 {
		t.Error("an IPv6 /64 neighbour is not throttled")
	}
	th.Succeed("otto")
	c.t = c.t.Add(time.Hour)
	if w := th.Wait("otto", "192.0.2.1:1"); w != 0 {
		t.Errorf("still waiting %v after success and an hour", w)
	}
}

// sessionGuard is a guard with a password user otto (operator), vera
// (viewer), and a session for each.
func sessionGuard(t *testing.T) (g *Guard, ids map[string]string, csrf map[string]string) {
	t.Helper()
	agents, users := tables(t)
	h, _ := HashPassword("password-1", cheap)
	users.AddPassword(h, User{"otto", RoleOperator})
	users.AddPassword(h, User{"vera", RoleViewer})
	g, _ = NewGuard(agents, users, "")
	g.Sessions, _ = NewSessions(SessionOptions{})
	g.LoginPath = "/login"
	ids, csrf = map[string]string{}, map[string]string{}
	for _, u := range []string{"otto", "vera"} {
		_, fp, err := users.CheckPassword(u, "password-1")
		if err != nil {
			t.Fatal(err)
		}
		id, s := g.Sessions.Create(u, fp)
		ids[u], csrf[u] = id, s.CSRF
	}
	return g, ids, csrf
}

func TestGuardSessions(t *testing.T) {
	g, ids, csrf := sessionGuard(t)
	form := func(who, tok, origin string) func(*http.Request) {
		return func(r *http.Request) {
			r.Method = http.MethodPost
			r.URL.Path = "/alerts/ack"
			body := url.Values{"csrf": {tok}}.Encode()
			r.Body = http.NoBody
			*r = *httptest.NewRequest(http.MethodPost, "http://collector.test/alerts/ack", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if origin != "" {
				r.Header.Set("Origin", origin)
			}
			if who != "" {
				r.AddCookie(&http.Cookie{Name: SessionCookie, Value: ids[who]})
			}
		}
	}
	for _, c := range []struct {
		name string
		need Role
		mod  func(*http.Request)
		code int
		who  string
	}{
		{"session reads", RoleViewer, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: ids["vera"]}) }, 200, "vera"},
		{"operator acts with its token", RoleOperator, form("otto", csrf["otto"], "http://collector.test"), 200, "otto"},
		{"viewer cannot act", RoleOperator, form("vera", csrf["vera"], ""), 403, ""},
		{"no CSRF token", RoleOperator, form("otto", "", ""), 403, ""},
		{"another session's CSRF token", RoleOperator, form("otto", csrf["vera"], ""), 403, ""},
		{"cross-site origin", RoleOperator, form("otto", csrf["otto"], "http://evil.test"), 403, ""},
		{"unknown session", RoleViewer, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "forged"}) }, 401, ""},
		{"a bearer token needs no CSRF token", RoleOperator, func(r *http.Request) {
			form("", "", "http://evil.test")(r)
			r.Header.Set("Authorization", "Bearer o")
		}, 200, "otto"},
	} {
		code, who := serve(g, c.need, c.mod)
		if code != c.code || who != c.who {
			t.Errorf("%s: %d as %q, want %d as %q", c.name, code, who, c.code, c.who)
		}
	}
	// A reload that drops the user's password ends its sessions.
	fresh := NewUsers()
	g.Users.Replace(fresh)
	if code, _ := serve(g, RoleViewer, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: ids["vera"]}) }); code != 401 {
		t.Errorf("session of a removed user: %d", code)
	}
}

func TestDenyPagesAndAPI(t *testing.T) {
	g, _, _ := sessionGuard(t)
	h := g.Wrap(RoleViewer, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/alerts?x=1", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	h.ServeHTTP(rec, req)
	if rec.Code != 303 || rec.Header().Get("Location") != "/login?next=%2Falerts%3Fx%3D1" {
		t.Errorf("page without credentials: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	for _, path := range []string{"/api/v1/alerts", "/alerts"} { // a tool, or a browser on the API
		rec = httptest.NewRecorder()
		req = httptest.NewRequest(http.MethodGet, path, nil)
		if path == "/api/v1/alerts" {
			req.Header.Set("Accept", "text/html")
		}
		h.ServeHTTP(rec, req)
		if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"unauthorized"`) {
			t.Errorf("%s without credentials: %d %s", path, rec.Code, rec.Body)
		}
	}
}
