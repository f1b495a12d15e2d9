// Package auth says who is calling: agents by bearer token or client
// certificate, people and tools by bearer token with a role. Only SHA-256
// hashes of tokens are kept, so a configuration can be committed without
// secrets. Tables are swapped whole on reload, safe for concurrent use.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
)

// Identity is who an authenticated agent is. The collector stamps Agent
// and Vantage on every series it pushes; an agent cannot claim another name.
type Identity struct {
	Agent   string
	Vantage string
	Country string
}

// Agents authenticates agents by token or by client certificate.
type Agents struct {
	t atomic.Pointer[agentTable]
}

type agentTable struct {
	byHash map[[32]byte]Identity
	byCert map[string]Identity // certificate subject common name or DNS SAN
}

// NewAgents returns an empty table.
func NewAgents() *Agents {
	a := &Agents{}
	a.t.Store(&agentTable{byHash: map[[32]byte]Identity{}, byCert: map[string]Identity{}})
	return a
}

// Add registers a token for id. Build a table before serving with it;
// Replace swaps a served one.
func (a *Agents) Add(token string, id Identity) error {
	return a.AddHash(Hash(token), id)
}

// AddHash registers a token by its hex SHA-256.
func (a *Agents) AddHash(hexHash string, id Identity) error {
	h, err := parseHash(hexHash)
	if err != nil {
		return fmt.Errorf("token_sha256 of agent %q: %w", id.Agent, err)
	}
	t := a.t.Load()
	if other, dup := t.byHash[h]; dup {
		return fmt.Errorf("agents %q and %q share a token", other.Agent, id.Agent)
	}
	t.byHash[h] = id
	return nil
}

// AddCert lets a client certificate whose subject common name or DNS name
// is name authenticate as id (the certificate is verified by the TLS
// listener against its client CAs before this is consulted).
func (a *Agents) AddCert(name string, id Identity) error {
	t := a.t.Load()
	if other, dup := t.byCert[name]; dup {
		return fmt.Errorf("agents %q and %q share the certificate name %q", other.Agent, id.Agent, name)
	}
	t.byCert[name] = id
	return nil
}

// Replace takes other's entries; requests in flight finish with the old ones.
func (a *Agents) Replace(other *Agents) { a.t.Store(other.t.Load()) }

// Hash is the hex SHA-256 of a token, as written in token_sha256.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func parseHash(hexHash string) ([32]byte, error) {
	b, err := hex.DecodeString(hexHash)
	if err != nil || len(b) != 32 {
		return [32]byte{}, fmt.Errorf("%.16q... is not 64 hex digits", hexHash)
	}
	return [32]byte(b), nil
}

// bearer is the request's token: a bearer token, or the password of HTTP
// basic authentication (so browsers, and tools that only know user:password
// URLs such as promtool, can present one); present reports whether an
// Authorization header was sent at all.
func bearer(r *http.Request) (tok string, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return tok, true
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return pass, true
	}
	return "", true
}

// Self authenticates an agent calling a route of its own
// (/api/v1/agents/{id}/...): the caller must be the agent {id} names. On
// failure it has answered the request (401 or 403).
func (a *Agents) Self(w http.ResponseWriter, r *http.Request) (Identity, bool) {
	id, ok := a.Authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bulwark"`)
		http.Error(w, "missing or unknown bearer token", http.StatusUnauthorized)
		return id, false
	}
	if want := r.PathValue("id"); want != id.Agent {
		http.Error(w, fmt.Sprintf("this token belongs to agent %q, not %q", id.Agent, want), http.StatusForbidden)
		return id, false
	}
	return id, true
}

// Authenticate returns the identity of the request's bearer token or, when
// there is none, of its verified client certificate.
func (a *Agents) Authenticate(r *http.Request) (Identity, bool) {
	t := a.t.Load()
	if tok, present := bearer(r); present {
		if tok == "" {
			return Identity{}, false
		}
		// Looking up the hash leaks timing about the hash only, not the token.
		id, ok := t.byHash[sha256.Sum256([]byte(tok))]
		return id, ok
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(t.byCert) == 0 {
		return Identity{}, false
	}
	leaf := r.TLS.VerifiedChains[0][0]
	if id, ok := t.byCert[leaf.Subject.CommonName]; ok && leaf.Subject.CommonName != "" {
		return id, true
	}
	for _, n := range leaf.DNSNames {
		if id, ok := t.byCert[n]; ok {
			return id, true
		}
	}
	return Identity{}, false
}

// User is an authenticated person or tool.
type User struct {
	ID   string
	Role Role
}

// Users authenticates API users by token.
type Users struct {
	t  atomic.Pointer[map[[32]byte]User]
	pw atomic.Pointer[map[string]passwordUser] // console logins by id
}

// NewUsers returns an empty table.
func NewUsers() *Users {
	us := &Users{}
	m := map[[32]byte]User{}
	us.t.Store(&m)
	us.pw.Store(&map[string]passwordUser{})
	return us
}

// Add registers a token (or, with hashed, its hex SHA-256) for u. Two
// users with one token are an error: the token would say nothing of who.
func (us *Users) Add(token string, hashed bool, u User) error {
	h := Hash(token)
	if hashed {
		h = token
	}
	b, err := parseHash(h)
	if err != nil {
		return fmt.Errorf("token_sha256 of user %q: %w", u.ID, err)
	}
	m := *us.t.Load()
	if other, dup := m[b]; dup {
		return fmt.Errorf("users %q and %q share a token", other.ID, u.ID)
	}
	m[b] = u
	return nil
}

// Replace takes other's entries.
func (us *Users) Replace(other *Users) {
	us.t.Store(other.t.Load())
	us.pw.Store(other.pw.Load())
}

// lookup returns the user of a token.
func (us *Users) lookup(tok string) (User, bool) {
	u, ok := (*us.t.Load())[sha256.Sum256([]byte(tok))]
	return u, ok
}

// SharedWith reports an agent and a user holding the same token.
func (a *Agents) SharedWith(us *Users) (agent, user string, shared bool) {
	users := *us.t.Load()
	for h, id := range a.t.Load().byHash {
		if u, ok := users[h]; ok {
			return id.Agent, u.ID, true
		}
	}
	return "", "", false
}

// ByID returns the user with that id (a Slack user mapped to Bulwark's).
func (us *Users) ByID(id string) (User, bool) {
	for _, u := range *us.t.Load() {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// List returns every agent identity of the table.
func (a *Agents) List() []Identity {
	t := a.t.Load()
	seen := map[string]bool{}
	var out []Identity
	add := func(id Identity) {
		if !seen[id.Agent] {
			seen[id.Agent] = true
			out = append(out, id)
		}
	}
	for _, id := range t.byHash {
		add(id)
	}
	for _, id := range t.byCert {
		add(id)
	}
	return out
}
