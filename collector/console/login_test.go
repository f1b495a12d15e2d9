package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type auditEntry struct{ who, action string }

// site is a console behind a guard, with password users otto (operator)
// and vera (viewer), fake alerting actions that record their calls, and
// an audit log in memory.
type site struct {
	srv      *httptest.Server
	clock    *fakeClock
	sessions *auth.Sessions
	mu       sync.Mutex
	audit    []auditEntry
	calls    []string
}

// roles mirrors the collector's route table for the routes served here.
var roles = map[string]auth.Role{
	"GET /{$}": auth.RoleViewer, "GET /services": auth.RoleViewer, "GET /alerts": auth.RoleViewer, "GET /dependencies": auth.RoleViewer, "GET /reports/dns": auth.RoleViewer,
	"GET /login": auth.RolePublic, "POST /login": auth.RolePublic, "POST /logout": auth.RoleViewer,
	"POST /alerts/ack": auth.RoleOperator, "POST /alerts/silence": auth.RoleOperator, "POST /alerts/silences/{id}/expire": auth.RoleOperator,
}

type guardedMux struct {
	t   *testing.T
	mux *http.ServeMux
	g   *auth.Guard
}

func (m guardedMux) HandleFunc(p string, f func(http.ResponseWriter, *http.Request)) {
	role, ok := roles[p]
	if !ok {
		m.t.Fatalf("route %q has no role in the test's table", p)
	}
	m.mux.Handle(p, m.g.Wrap(role, http.HandlerFunc(f)))
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{clock: &fakeClock{t: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)}}
	users := auth.NewUsers()
	for id, role := range map[string]auth.Role{"otto": auth.RoleOperator, "vera": auth.RoleViewer} {
		h, err := auth.HashPassword("pass-"+id, auth.Argon2Params{Memory: 64, Time: 1, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := users.AddPassword(h, auth.User{ID: id, Role: role}); err != nil {
			t.Fatal(err)
		}
	}
	g, _ := auth.NewGuard(auth.NewAgents(), users, "")
	s.sessions, _ = auth.NewSessions(auth.SessionOptions{Idle: 30 * time.Minute, Now: s.clock.now})
	c, err := New(Options{Engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 1000, Timeout: time.Second}),
		Queryable: storage.QueryableFunc(func(int64, int64) (storage.Querier, error) { return storage.NoopQuerier(), nil }),
		Alerting: func() AlertState {
			return AlertState{Enabled: true, Incidents: []Incident{{ID: "ab12cd", Labels: "classification=down-everywhere", Services: []string{"tax-office"}}}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := guardedMux{t, http.NewServeMux(), g}
	c.Register(mux)
	record := func(call string) error {
		s.mu.Lock()
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		return nil
	}
	err = c.RegisterAccess(mux, Access{Guard: g, Sessions: s.sessions, Throttle: auth.NewThrottle(auth.ThrottleOptions{Now: s.clock.now}),
		Audit: func(_ context.Context, who, action string, _ any) {
			s.mu.Lock()
			s.audit = append(s.audit, auditEntry{who, action})
			s.mu.Unlock()
		},
		Acknowledge: func(_ context.Context, by, incident, comment string) error {
			return record("ack " + by + " " + incident + " " + comment)
		},
		Silence: func(_ context.Context, by string, f SilenceForm) error {
			return record("silence " + by + " " + f.Match + " " + f.EndsAt.Format(time.RFC3339) + " " + f.Comment)
		},
		ExpireSilence: func(_ context.Context, by, id string) error { return record("expire " + by + " " + id) }})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(mux.mux)
	t.Cleanup(s.srv.Close)
	return s
}

// do sends a request as a browser would (no redirects followed) with the
// given cookies, and returns the answer and its body.
func (s *site) do(t *testing.T, method, path string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, body)
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.srv.URL)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// login logs user in (with extra cookies sent along) and returns the
// answer to the form.
func (s *site) login(t *testing.T, user, password string, extra ...*http.Cookie) *http.Response {
	t.Helper()
	resp, body := s.do(t, http.MethodGet, "/login", nil)
	m := csrfRE.FindStringSubmatch(body)
	lc := cookie(resp, loginCookie)
	if m == nil || lc == nil {
		t.Fatalf("login page without its token: %s", body)
	}
	resp, _ = s.do(t, http.MethodPost, "/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {password}, "next": {"/alerts"}},
		append(extra, lc)...)
	return resp
}

// session logs user in and returns its cookie and its page's CSRF token.
func (s *site) session(t *testing.T, user string) (*http.Cookie, string) {
	t.Helper()
	resp := s.login(t, user, "pass-"+user)
	sc := cookie(resp, auth.SessionCookie)
	if resp.StatusCode != http.StatusSeeOther || sc == nil {
		t.Fatalf("login of %s: %d", user, resp.StatusCode)
	}
	_, body := s.do(t, http.MethodGet, "/alerts", nil, sc)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("alerts page of %s has no form token", user)
	}
	return sc, m[1]
}

func (s *site) audited() []auditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]auditEntry(nil), s.audit...)
}

func TestLoginSessionCookie(t *testing.T) {
	s := newSite(t)
	// A session id planted before login is neither adopted nor kept.
	planted := &http.Cookie{Name: auth.SessionCookie, Value: "attacker-chosen-id"}
	resp := s.login(t, "otto", "pass-otto", planted)
	sc := cookie(resp, auth.SessionCookie)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/alerts" || sc == nil {
		t.Fatalf("login: %d %q %v", resp.StatusCode, resp.Header.Get("Location"), sc)
	}
	if sc.Value == planted.Value || len(sc.Value) < 43 || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" {
		t.Errorf("session cookie %+v", sc)
	}
	if resp, _ := s.do(t, http.MethodGet, "/alerts", nil, planted); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the planted id reads: %d", resp.StatusCode)
	}
	// Logging in again over a live session ends it: a new id every time.
	resp2 := s.login(t, "otto", "pass-otto", sc)
	sc2 := cookie(resp2, auth.SessionCookie)
	if sc2 == nil || sc2.Value == sc.Value {
		t.Fatalf("second login kept the id")
	}
	if resp, _ := s.do(t, http.MethodGet, "/alerts", nil, sc); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the session before the second login still reads: %d", resp.StatusCode)
	}
	if resp, body := s.do(t, http.MethodGet, "/alerts", nil, sc2); resp.StatusCode != 200 || !strings.Contains(body, "otto (operator)") {
		t.Errorf("alerts page as otto: %d", resp.StatusCode)
	}
	// A login form without its double-submit token, or from another site, is refused.
	if resp, _ := s.do(t, http.MethodPost, "/login", url.Values{"user": {"otto"}, "password": {"pass-otto"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("login without its form token: %d", resp.StatusCode)
	}
	// The login page carries the console's headers and is not cached.
	if resp, _ := s.do(t, http.MethodGet, "/login", nil); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'none'") ||
		resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login page headers: %v", resp.Header)
	}
	// The next page stays on this site.
	for in, want := range map[string]string{"/alerts?x=1": "/alerts?x=1", "//evil.test/": "/", "https://evil.test/": "/", "/\\evil.test": "/"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWrongPasswordAndThrottle(t *testing.T) {
	s := newSite(t)
	for i := range 5 {
		if resp := s.login(t, "otto", "wrong-password"); resp.StatusCode != http.StatusUnauthorized || cookie(resp, auth.SessionCookie) != nil {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}
	// The sixth failure locks the name for 1s: even the right password waits.
	s.login(t, "otto", "wrong-password")
	resp := s.login(t, "otto", "pass-otto")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("locked login: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.clock.add(time.Second)
	if resp := s.login(t, "otto", "pass-otto"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the lock: %d", resp.StatusCode)
	}
	var failures, logins int
	for _, e := range s.audited() {
		switch {
		case e.action == "login.failure" && e.who == "":
			failures++
		case e.action == "login" && e.who == "otto":
			logins++
		}
	}
	if failures != 6 || logins != 1 {
		t.Errorf("audit: %d failures, %d logins, want 6 and 1: %v", failures, logins, s.audited())
	}
	if resp := s.login(t, "nobody", "pass-otto"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown user: %d", resp.StatusCode)
	}
}

func TestConsoleActions(t *testing.T) {
	s := newSite(t)
	otto, ottoCSRF := s.session(t, "otto")
	vera, veraCSRF := s.session(t, "vera")
	ack := func(tok string) url.Values {
		return url.Values{"csrf": {tok}, "incident": {"ab12cd"}, "comment": {"on it"}}
	}
	for _, c := range []struct {
		name string
		form url.Values
		ck   *http.Cookie
		code int
	}{
		{"viewer posting the form directly", ack(veraCSRF), vera, http.StatusForbidden},
		{"no CSRF token", url.Values{"incident": {"ab12cd"}}, otto, http.StatusForbidden},
		{"another session's CSRF token", ack(veraCSRF), otto, http.StatusForbidden},
		{"no session", ack(ottoCSRF), nil, http.StatusSeeOther},
		{"operator", ack(ottoCSRF), otto, http.StatusSeeOther},
	} {
		var cks []*http.Cookie
		if c.ck != nil {
			cks = append(cks, c.ck)
		}
		resp, _ := s.do(t, http.MethodPost, "/alerts/ack", c.form, cks...)
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.code)
		}
	}
	if len(s.calls) != 1 || s.calls[0] != "ack otto ab12cd on it" {
		t.Fatalf("acknowledged: %q", s.calls)
	}
	// A form from another site is refused even with the right token.
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/alerts/ack", strings.NewReader(ack(ottoCSRF).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.test")
	req.AddCookie(otto)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form: %v %v", resp.StatusCode, err)
	}
	resp, _ := s.do(t, http.MethodPost, "/alerts/silence", url.Values{"csrf": {ottoCSRF}, "match": {`target="tax-office"`},
		"ends": {"2026-12-07T12:30"}, "comment": {"vendor maintenance"}}, otto)
	if resp.StatusCode != http.StatusSeeOther || s.calls[1] != `silence otto target="tax-office" 2026-12-07T12:30:00Z vendor maintenance` {
		t.Errorf("silence: %d %q", resp.StatusCode, s.calls)
	}
	if resp, body := s.do(t, http.MethodPost, "/alerts/silence", url.Values{"csrf": {ottoCSRF}, "match": {`target="x"`}, "comment": {"c"}}, otto); resp.StatusCode != 400 || !strings.Contains(body, "give an end time or a length") {
		t.Errorf("silence without an end: %d", resp.StatusCode)
	}
	if resp, _ := s.do(t, http.MethodPost, "/alerts/silences/s1/expire", url.Values{"csrf": {ottoCSRF}}, otto); resp.StatusCode != http.StatusSeeOther || s.calls[2] != "expire otto s1" {
		t.Errorf("expire: %d %q", resp.StatusCode, s.calls)
	}
	// The viewer's page shows no form; the operator's does.
	if _, body := s.do(t, http.MethodGet, "/alerts", nil, vera); strings.Contains(body, `action="/alerts/ack"`) {
		t.Error("the viewer's page has an acknowledge form")
	}
	if _, body := s.do(t, http.MethodGet, "/alerts", nil, otto); !strings.Contains(body, `action="/alerts/ack"`) || strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("the operator's page lacks its form, or refreshes over it")
	}
}

func TestLogoutAndExpiry(t *testing.T) {
	s := newSite(t)
	otto, csrf := s.session(t, "otto")
	if resp, _ := s.do(t, http.MethodPost, "/logout", url.Values{}, otto); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without its CSRF token: %d", resp.StatusCode)
	}
	resp, _ := s.do(t, http.MethodPost, "/logout", url.Values{"csrf": {csrf}}, otto)
	if resp.StatusCode != http.StatusSeeOther || cookie(resp, auth.SessionCookie) == nil || cookie(resp, auth.SessionCookie).MaxAge >= 0 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// The browser may keep the cookie: the server has ended the session.
	if resp, _ := s.do(t, http.MethodGet, "/alerts", nil, otto); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("after logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := s.do(t, http.MethodPost, "/alerts/ack", url.Values{"csrf": {csrf}, "incident": {"ab12cd"}}, otto); resp.StatusCode != http.StatusSeeOther || len(s.calls) != 0 {
		t.Errorf("acting after logout: %d %q", resp.StatusCode, s.calls)
	}
	if a := s.audited(); a[len(a)-1] != (auditEntry{"otto", "logout"}) {
		t.Errorf("last audit entry %v", a[len(a)-1])
	}
	// Idle for 30 minutes: the session is refused and forgotten.
	vera, _ := s.session(t, "vera")
	s.clock.add(29 * time.Minute)
	if resp, _ := s.do(t, http.MethodGet, "/alerts", nil, vera); resp.StatusCode != 200 {
		t.Fatalf("session used after 29 minutes: %d", resp.StatusCode)
	}
	s.clock.add(30 * time.Minute)
	if resp, _ := s.do(t, http.MethodGet, "/alerts", nil, vera); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("expired session: %d", resp.StatusCode)
	}
	if n := s.sessions.Len(); n != 0 {
		t.Errorf("%d sessions kept after logout and expiry", n)
	}
}
