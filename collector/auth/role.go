package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
)

// Role is what a route requires of its caller. Each user role includes the
// ones before it; an agent holds no user role and may only write its own
// samples and read its own targets.
type Role string

// Roles, from open to most privileged.
const (
	RolePublic   Role = "public"   // anyone: health and readiness only
	RoleAgent    Role = "agent"    // an authenticated agent, for its own data
	RoleViewer   Role = "viewer"   // read series, dependencies, reports, the console
	RoleOperator Role = "operator" // act: import, silence, run playbooks, drills
	RoleAdmin    Role = "admin"    // configuration, users, reload, profiling
)

var userRank = map[Role]int{RoleViewer: 1, RoleOperator: 2, RoleAdmin: 3}

// ValidRole reports whether r is a role a user can hold.
func ValidRole(r Role) bool { return userRank[r] > 0 }

// Includes reports whether a user holding r may use a route requiring need.
func (r Role) Includes(need Role) bool { return userRank[r] >= userRank[need] && userRank[need] > 0 }

// Guard puts routes behind roles. Its tables and anonymous role may be
// replaced while it serves (configuration reload).
type Guard struct {
	Agents *Agents
	Users  *Users
	// Sessions, when set, authenticates requests without an Authorization
	// header by the console's session cookie (see session_guard.go).
	Sessions *Sessions
	// LoginPath, when set, is where a browser asking for a console page
	// without credentials is sent.
	LoginPath string
	anon      atomic.Pointer[Role]
}

// NewGuard returns a guard over the two tables; anonymous is the role of a
// request without any credentials ("" refuses them).
func NewGuard(agents *Agents, users *Users, anonymous Role) (*Guard, error) {
	g := &Guard{Agents: agents, Users: users}
	if err := g.SetAnonymous(anonymous); err != nil {
		return nil, err
	}
	return g, nil
}

// SetAnonymous sets the role of requests without credentials.
func (g *Guard) SetAnonymous(r Role) error {
	if r != "" && !ValidRole(r) {
		return fmt.Errorf("anonymous role %q must be viewer, operator, admin or empty", r)
	}
	g.anon.Store(&r)
	return nil
}

type ctxKey int

const (
	userKey ctxKey = iota
	agentKey
	sessionKey
)

// UserFrom returns the user a guarded route was called by.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey).(User)
	return u, ok
}

// AgentFrom returns the agent a guarded route was called by.
func AgentFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(agentKey).(Identity)
	return id, ok
}

// Wrap returns h behind need.
func (g *Guard) Wrap(need Role, h http.Handler) http.Handler {
	switch need {
	case RolePublic:
		return h
	case RoleAgent:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := g.Agents.Authenticate(r)
			if !ok {
				if tok, _ := bearer(r); tok != "" {
					if _, isUser := g.Users.lookup(tok); isUser {
						Deny(w, http.StatusForbidden, "this route is for agents; a user token cannot use it")
						return
					}
				}
				Deny(w, http.StatusUnauthorized, "missing or unknown agent credentials")
				return
			}
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), agentKey, id)))
		})
	}
	if !ValidRole(need) {
		panic(fmt.Sprintf("auth: unknown role %q", need))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, sess, code, msg := g.user(r)
		if code == 0 && !safeMethod(r.Method) {
			code, msg = g.checkUnsafe(r, sess)
		}
		if code != 0 {
			g.deny(w, r, code, msg)
			return
		}
		if !u.Role.Includes(need) {
			g.deny(w, r, http.StatusForbidden, fmt.Sprintf("user %q has role %s; this needs %s", u.ID, u.Role, need))
			return
		}
		ctx := context.WithValue(r.Context(), userKey, u)
		if sess != nil {
			ctx = context.WithValue(ctx, sessionKey, *sess)
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// user authenticates r as a user, or as the anonymous role when it carries
// no credentials at all. A wrong token is never anonymous.
func (g *Guard) user(r *http.Request) (User, *Session, int, string) {
	tok, present := bearer(r)
	if !present {
		if u, s, ok := g.session(r); ok {
			return u, s, 0, ""
		}
		if anon := *g.anon.Load(); anon != "" {
			return User{ID: "anonymous", Role: anon}, nil, 0, ""
		}
		return User{}, nil, http.StatusUnauthorized, "this route needs a bearer token"
	}
	if u, ok := g.Users.lookup(tok); ok && tok != "" {
		return u, nil, 0, ""
	}
	if _, isAgent := g.Agents.Authenticate(r); isAgent {
		return User{}, nil, http.StatusForbidden, "an agent token reads nothing; use a user token"
	}
	return User{}, nil, http.StatusUnauthorized, "unknown bearer token"
}

// Deny answers an authentication or authorisation failure in the
// Prometheus API's error shape.
func Deny(w http.ResponseWriter, code int, msg string) {
	typ := "unauthorized"
	if code == http.StatusForbidden {
		typ = "forbidden"
	} else {
		// Browsers ask for Basic (the token as password); API clients send Bearer.
		w.Header().Set("WWW-Authenticate", `Bearer realm="bulwark", Basic realm="bulwark"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": typ, "error": msg})
}
