package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Access is what the console needs to log people in and to act for them.
type Access struct {
	// Guard puts every route behind its role; RegisterAccess gives it
	// Sessions and the login page.
	Guard    *auth.Guard
	Sessions *auth.Sessions
	Throttle *auth.Throttle
	// Audit records who did what (logins, logouts; actions are audited
	// by the code paths they share with the API).
	Audit func(ctx context.Context, who, action string, detail any)
	// The alerting actions, the same code paths as the API's (optional:
	// without them the forms answer that alerting is not running).
	Acknowledge   func(ctx context.Context, by, incident, comment string) error
	Silence       func(ctx context.Context, by string, s SilenceForm) error
	ExpireSilence func(ctx context.Context, by, id string) error
}

// loginCookie carries the login form's double-submit token (no session
// exists yet to tie a synchronizer token to).
const loginCookie = "bulwark_login"

// maxVerifying bounds concurrent password checks: each argon2id check
// holds 64 MiB.
const maxVerifying = 2

type access struct {
	c   *Console
	a   Access
	sem chan struct{}
}

// RegisterAccess adds the login page, logout and the alerts page's
// actions to mux, and makes the guard accept console sessions.
func (c *Console) RegisterAccess(mux interface {
	HandleFunc(string, func(http.ResponseWriter, *http.Request))
}, a Access) error {
	if a.Guard == nil || a.Sessions == nil || a.Throttle == nil {
		return errors.New("console: Access needs Guard, Sessions and Throttle")
	}
	if a.Audit == nil {
		a.Audit = func(context.Context, string, string, any) {}
	}
	a.Guard.Sessions = a.Sessions
	a.Guard.LoginPath = "/login"
	h := &access{c: c, a: a, sem: make(chan struct{}, maxVerifying)}
	mux.HandleFunc("GET /login", c.secure(h.loginPage))
	mux.HandleFunc("POST /login", c.secure(h.login))
	mux.HandleFunc("POST /logout", c.secure(h.logout))
	mux.HandleFunc("POST /alerts/ack", c.secure(h.ack))
	mux.HandleFunc("POST /alerts/silence", c.secure(h.silence))
	mux.HandleFunc("POST /alerts/silences/{id}/expire", c.secure(h.expire))
	return nil
}

type loginPage struct {
	Token, Next, Error, User string
}

// safeNext keeps a post-login redirect on this site: a path, never
// another host ("//evil", "/\evil").
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *access) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "", r.URL.Query().Get("next"), "")
}

// showLogin renders the form with a fresh double-submit token.
func (h *access) showLogin(w http.ResponseWriter, r *http.Request, code int, msg, next, user string) {
	tok := newToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := h.c.tmpl.ExecuteTemplate(w, "login.html", loginPage{Token: tok, Next: safeNext(next), Error: msg, User: user}); err != nil {
		h.c.opts.Logger.Error("console: render", "page", "login.html", "err", err)
	}
}

func (h *access) login(w http.ResponseWriter, r *http.Request) {
	name, next := r.PostFormValue("user"), r.PostFormValue("next")
	ck, err := r.Cookie(loginCookie)
	if !auth.SameOrigin(r) || err != nil || ck.Value == "" ||
		subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue(auth.CSRFField))) != 1 {
		h.showLogin(w, r, http.StatusBadRequest, "The login form expired or came from another site: try again.", next, name)
		return
	}
	addr := r.RemoteAddr
	if wait := h.a.Throttle.Wait(name, addr); wait > 0 {
		secs := int(wait.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		h.c.opts.Logger.Warn("console: login throttled", "user", name, "address", addr, "wait", wait)
		h.showLogin(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many failed logins: wait %d s and try again.", max(secs, 1)), next, name)
		return
	}
	select {
	case h.sem <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	u, fp, err := h.a.Guard.Users.CheckPassword(name, r.PostFormValue("password"))
	<-h.sem
	if err != nil {
		locked := h.a.Throttle.Fail(name, addr)
		h.a.Audit(r.Context(), "", "login.failure", map[string]any{"user": name, "address": addr, "locked": locked})
		h.showLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.", next, name)
		return
	}
	h.a.Throttle.Succeed(name)
	// A new id at every login: a session id planted before it is dropped,
	// never adopted.
	if old := auth.SessionID(r); old != "" {
		h.a.Sessions.Delete(old)
	}
	id, _ := h.a.Sessions.Create(u.ID, fp)
	h.a.Sessions.SetCookie(w, r, id)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	h.a.Audit(r.Context(), u.ID, "login", map[string]any{"address": addr, "role": u.Role})
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// logout ends the session on the server, not only in the browser.
func (h *access) logout(w http.ResponseWriter, r *http.Request) {
	if _, ok := auth.SessionFrom(r.Context()); ok {
		u, _ := auth.UserFrom(r.Context())
		h.a.Sessions.Delete(auth.SessionID(r))
		h.a.Audit(r.Context(), u.ID, "logout", map[string]any{"address": r.RemoteAddr})
	}
	auth.ClearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
