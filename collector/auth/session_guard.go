package auth

import (
	"context"
	"crypto/subtle"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// CSRFField is the form field (and CSRFHeader the header) that carries a
// session's synchronizer token on every request that changes something.
const (
	CSRFField  = "csrf"
	CSRFHeader = "X-CSRF-Token"
)

// SessionFrom returns the console session a guarded route was called with.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey).(Session)
	return s, ok
}

// session authenticates r by its session cookie. The session's user must
// still hold the password it logged in with (a reload that removes the
// user or changes the hash ends the session); its role is read now.
func (g *Guard) session(r *http.Request) (User, *Session, bool) {
	if g.Sessions == nil {
		return User{}, nil, false
	}
	id := SessionID(r)
	s, ok := g.Sessions.Get(id)
	if !ok {
		return User{}, nil, false
	}
	u, ok := g.Users.passwordUserNow(s.User, s.fp)
	if !ok {
		g.Sessions.Delete(id)
		return User{}, nil, false
	}
	return u, &s, true
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkUnsafe refuses a forged request that would change something. A
// bearer token is never sent by a browser on its own, so it needs nothing
// more. Anything else (a session cookie, remembered basic credentials, the
// anonymous role) must not come from another site: an Origin, or else a
// Referer, naming another host is refused; and a session must present
// its synchronizer token.
func (g *Guard) checkUnsafe(r *http.Request, s *Session) (int, string) {
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		return 0, ""
	}
	if !SameOrigin(r) {
		return http.StatusForbidden, "cross-site request refused (its Origin or Referer is another host)"
	}
	if s == nil {
		return 0, ""
	}
	tok := r.Header.Get(CSRFHeader)
	if tok == "" && isForm(r) {
		tok = r.PostFormValue(CSRFField)
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) != 1 {
		return http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again"
	}
	return 0, ""
}

// SameOrigin reports whether r's Origin (or, without one, its Referer)
// names the host r was sent to; a request with neither passes.
func SameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	if from == "" {
		return true
	}
	u, err := url.Parse(from)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func isForm(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// isPage reports whether path is a console page rather than an API,
// health, metrics or profiling route.
func isPage(path string) bool {
	for _, p := range []string{"/api/", "/-/", "/debug/"} {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	return path != "/metrics"
}

// deny answers a refusal in the Prometheus error shape, except to a
// browser (it accepts text/html) on a console page: without credentials
// it is sent to the login page, other refusals are plain text.
func (g *Guard) deny(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if g.LoginPath == "" || !isPage(r.URL.Path) || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		Deny(w, code, msg)
		return
	}
	if code == http.StatusUnauthorized {
		to := g.LoginPath
		if r.Method == http.MethodGet {
			to += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.Error(w, msg, code)
}
