// Package targets serves each agent its list of targets:
// GET /api/v1/agents/{id}/targets, with an ETag so polling agents get a
// 304 until the list changes.
package targets

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// List is the JSON body of the endpoint.
type List struct {
	Targets []target.Target `json:"targets"`
}

// Handler serves the target list.
type Handler struct {
	agents *auth.Agents

	mu   sync.RWMutex
	body []byte
	etag string
}

// New returns a Handler serving ts.
func New(agents *auth.Agents, ts []target.Target) (*Handler, error) {
	h := &Handler{agents: agents}
	if err := h.Set(ts); err != nil {
		return nil, err
	}
	return h, nil
}

// Set replaces the list.
func (h *Handler) Set(ts []target.Target) error {
	if ts == nil {
		ts = []target.Target{}
	}
	b, err := json.Marshal(List{Targets: ts})
	if err != nil {
		return fmt.Errorf("targets: %w", err)
	}
	sum := sha256.Sum256(b)
	h.mu.Lock()
	h.body, h.etag = b, `"`+hex.EncodeToString(sum[:16])+`"`
	h.mu.Unlock()
	return nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.agents.Self(w, r); !ok {
		return
	}
	h.mu.RLock()
	body, etag := h.body, h.etag
	h.mu.RUnlock()
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}
