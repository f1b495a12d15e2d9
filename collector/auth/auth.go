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
