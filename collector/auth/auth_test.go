package auth

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"testing"
)

func tables(t *testing.T) (*Agents, *Users) {
	t.Helper()
	agents := NewAgents()
	if err := agents.Add("agent-token", Identity{Agent: "home-1", Vantage: "home"}); err != nil {
		t.Fatal(err)
	}
	if err := agents.AddCert("abroad-1.agents.test", Identity{Agent: "abroad-1", Vantage: "abroad"}); err != nil {
		t.Fatal(err)
	}
	users := NewUsers()
	for tok, u := range map[string]User{"v": {"vera", RoleViewer}, "o": {"otto", RoleOperator}, "a": {"ada", RoleAdmin}} {
		if err := users.Add(tok, false, u); err != nil {
			t.Fatal(err)
		}
	}
	return agents, users
}

// serve runs h behind need with the request built by mod, and returns the
// status and the user or agent the handler saw.
func serve(g *Guard, need Role, mod func(*http.Request)) (code int, who string) {
	h := g.Wrap(need, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := UserFrom(r.Context()); ok {
			who = u.ID
		}
		if id, ok := AgentFrom(r.Context()); ok {
			who = id.Agent
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	mod(req)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, who
}

func withToken(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func TestGuard(t *testing.T) {
	agents, users := tables(t)
	g, err := NewGuard(agents, users, "")
	if err != nil {
		t.Fatal(err)
	}
	cert := func(cn string) func(*http.Request) {
		return func(r *http.Request) {
			leaf := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
			r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
		}
	}
	for _, c := range []struct {
		name string
		need Role
		mod  func(*http.Request)
		code int
		who  string
	}{
		{"viewer reads", RoleViewer, withToken("v"), 200, "vera"},
		{"admin reads", RoleViewer, withToken("a"), 200, "ada"},
		{"viewer cannot act", RoleOperator, withToken("v"), 403, ""},
		{"operator acts", RoleOperator, withToken("o"), 200, "otto"},
		{"operator cannot reload", RoleAdmin, withToken("o"), 403, ""},
		{"no token", RoleViewer, func(*http.Request) {}, 401, ""},
		{"wrong token", RoleViewer, withToken("nope"), 401, ""},
		{"empty bearer", RoleViewer, withToken(""), 401, ""},
		{"agent token reads nothing", RoleViewer, withToken("agent-token"), 403, ""},
		{"agent writes", RoleAgent, withToken("agent-token"), 200, "home-1"},
		{"user cannot write as an agent", RoleAgent, withToken("a"), 403, ""},
		{"agent by certificate", RoleAgent, cert("abroad-1.agents.test"), 200, "abroad-1"},
		{"unknown certificate", RoleAgent, cert("stranger.test"), 401, ""},
		{"basic auth password is the token", RoleViewer, func(r *http.Request) { r.SetBasicAuth("anyone", "v") }, 200, "vera"},
		{"public", RolePublic, func(*http.Request) {}, 200, ""},
	} {
		code, who := serve(g, c.need, c.mod)
		if code != c.code || who != c.who {
			t.Errorf("%s: %d as %q, want %d as %q", c.name, code, who, c.code, c.who)
		}
	}
	// Anonymous reading only when configured, and never for a wrong token.
	g.SetAnonymous(RoleViewer)
	if code, who := serve(g, RoleViewer, func(*http.Request) {}); code != 200 || who != "anonymous" {
		t.Errorf("anonymous viewer: %d %q", code, who)
	}
	if code, _ := serve(g, RoleOperator, func(*http.Request) {}); code != 403 {
		t.Errorf("anonymous operator: %d", code)
	}
	if code, _ := serve(g, RoleViewer, withToken("nope")); code != 401 {
		t.Errorf("wrong token with anonymous reading: %d", code)
	}
	if err := g.SetAnonymous("root"); err == nil {
		t.Error("anonymous role root accepted")
	}
}

// Tables are replaced whole on reload; duplicates are refused.
func TestTables(t *testing.T) {
	agents, users := tables(t)
	if err := users.Add("v", false, User{"vic", RoleViewer}); err == nil {
		t.Error("two users with one token")
	}
	if err := agents.Add("agent-token", Identity{Agent: "home-2"}); err == nil {
		t.Error("two agents with one token")
	}
	if err := users.Add("abc", true, User{"x", RoleViewer}); err == nil {
		t.Error("a token_sha256 that is not 64 hex digits")
	}
	if err := agents.Add("o", Identity{Agent: "home-3"}); err != nil {
		t.Fatal(err)
	}
	if a, u, shared := agents.SharedWith(users); !shared || a != "home-3" || u != "otto" {
		t.Errorf("SharedWith = %q %q %v", a, u, shared)
	}
	g, _ := NewGuard(agents, users, "")
	fresh := NewUsers()
	fresh.Add("new", false, User{"nora", RoleViewer})
	users.Replace(fresh)
	if code, who := serve(g, RoleViewer, withToken("new")); code != 200 || who != "nora" {
		t.Errorf("after Replace: %d %q", code, who)
	}
	if code, _ := serve(g, RoleViewer, withToken("v")); code != 401 {
		t.Errorf("a removed user still reads: %d", code)
	}
}
