// Package auth maps bearer tokens to agent identities. Only SHA-256 hashes
// of tokens are kept, so a configuration can be committed without secrets.
package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Identity is who an authenticated agent is. The collector stamps Agent
// and Vantage on every series it pushes; an agent cannot claim another name.
type Identity struct {
	Agent   string
	Vantage string
	Country string
}

// Agents authenticates agents by token.
type Agents struct {
	byHash map[[32]byte]Identity
}

// NewAgents returns an empty token table.
func NewAgents() *Agents { return &Agents{byHash: map[[32]byte]Identity{}} }

// Add registers a token for id.
func (a *Agents) Add(token string, id Identity) error {
	return a.AddHash(Hash(token), id)
}

// AddHash registers a token by its hex SHA-256.
func (a *Agents) AddHash(hexHash string, id Identity) error {
	b, err := hex.DecodeString(hexHash)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("token_sha256 of agent %q is not 64 hex digits", id.Agent)
	}
	h := [32]byte(b)
	if other, dup := a.byHash[h]; dup {
		return fmt.Errorf("agents %q and %q share a token", other.Agent, id.Agent)
	}
	a.byHash[h] = id
	return nil
}

// Hash is the hex SHA-256 of a token, as written in token_sha256.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Authenticate returns the identity of the request's bearer token.
func (a *Agents) Authenticate(r *http.Request) (Identity, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return Identity{}, false
	}
	// Looking up the hash leaks timing about the hash only, not the token.
	id, ok := a.byHash[sha256.Sum256([]byte(tok))]
	return id, ok
}

// Roles of people and tools using the API, each including the ones before.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

var roleRank = map[string]int{RoleViewer: 1, RoleOperator: 2, RoleAdmin: 3}

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool { return roleRank[r] > 0 }

// User is an authenticated person or tool.
type User struct {
	ID   string
	Role string
}

// Users authenticates API users by token.
type Users struct {
	byHash map[[32]byte]User
}

// NewUsers returns an empty table.
func NewUsers() *Users { return &Users{byHash: map[[32]byte]User{}} }

// Add registers a token (or, with hashed, its hex SHA-256) for u.
func (us *Users) Add(token string, hashed bool, u User) error {
	h := Hash(token)
	if hashed {
		h = token
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("token_sha256 of user %q is not 64 hex digits", u.ID)
	}
	us.byHash[[32]byte(b)] = u
	return nil
}

// Require authenticates r and checks that its user has at least role.
// It writes the 401 or 403 itself and reports whether to go on.
func (us *Users) Require(w http.ResponseWriter, r *http.Request, role string) (User, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	u, known := us.byHash[sha256.Sum256([]byte(tok))]
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bulwark"`)
		http.Error(w, "missing or unknown bearer token", http.StatusUnauthorized)
		return User{}, false
	}
	if roleRank[u.Role] < roleRank[role] {
		http.Error(w, fmt.Sprintf("user %q has role %s; this needs %s", u.ID, u.Role, role), http.StatusForbidden)
		return User{}, false
	}
	return u, true
}
