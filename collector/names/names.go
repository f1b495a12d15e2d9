// Package names lets agents resolve, for the collector, the host names it
// cannot attribute by name: the name servers of imported zones that carry
// no glue and match no catalog entry (the long tail). The collector hands
// each agent the list (GET /api/v1/agents/{id}/names); the agent resolves
// them with its own resolver and posts the addresses back (POST, same
// path); the collector then attributes them by address (AS and its
// country). The collector never resolves anything itself: it may sit where
// no DNS answers, and the agents see what users see.
package names

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Bounds: what agents post is input.
const (
	MaxNames      = 20000   // names handed out, and accepted in one post
	MaxAddrs      = 16      // addresses kept per name
	maxPostBytes  = 4 << 20 // of one post
	maxPosts      = 2       // posts decoded at once, by all agents
	maxNameLength = 253
)

// Entry is what an agent found for one name.
type Entry struct {
	Addrs []string  `json:"addrs"`
	Agent string    `json:"agent"`
	At    time.Time `json:"at"`
}

// Store keeps the resolutions, persisted as JSON (written whole, through a
// temporary file: a crash leaves the old or the new file, never half).
type Store struct {
	path string
	// Wanted lists the names to resolve now (set by the collector).
	Wanted func() []string

	mu      sync.RWMutex
	m       map[string]Entry
	version atomic.Uint64 // bumped when an address set changes
}

// Version changes whenever Lookup's answers may: what is derived from them
// (the DNS report) can be cached under it.
func (s *Store) Version() uint64 { return s.version.Load() }

// Open loads the store at path (a missing file is an empty store).
func Open(path string) (*Store, error) {
	s := &Store{path: path, m: map[string]Entry{}, Wanted: func() []string { return nil }}
	b, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("names: %w", err)
	}
	if err := json.Unmarshal(b, &s.m); err != nil {
		return nil, fmt.Errorf("names: %s: %w", path, err)
	}
	return s, nil
}

// Lookup returns the addresses an agent found for name (nil: none yet).
func (s *Store) Lookup(name string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[normalize(name)].Addrs
}

// Resolved returns the whole map, name to entry (a copy).
func (s *Store) Resolved() map[string]Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]Entry, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

func normalize(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// Put records what agent found: names it asked about only, valid
// addresses only, at most MaxAddrs each. It returns how many were kept.
func (s *Store) Put(agent string, found map[string][]string, now time.Time) (int, error) {
	wanted := map[string]bool{}
	for _, n := range s.Wanted() {
		wanted[normalize(n)] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := 0
	for name, addrs := range found {
		name = normalize(name)
		if !wanted[name] || len(name) > maxNameLength {
			continue // not asked: an agent does not get to attribute what it likes
		}
		var ok []string
		for _, a := range addrs {
			if ip, err := netip.ParseAddr(a); err == nil && ip.IsGlobalUnicast() || err == nil && ip.IsLoopback() {
				if !slices.Contains(ok, ip.String()) && len(ok) < MaxAddrs {
					ok = append(ok, ip.String())
				}
			}
		}
		if len(ok) == 0 {
			continue
		}
		slices.Sort(ok)
		if !slices.Equal(s.m[name].Addrs, ok) {
			s.version.Add(1)
		}
		s.m[name] = Entry{Addrs: ok, Agent: agent, At: now.UTC()}
		kept++
	}
	if kept == 0 {
		return 0, nil
	}
	b, err := json.Marshal(s.m)
	if err != nil {
		return 0, fmt.Errorf("names: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return 0, fmt.Errorf("names: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return 0, fmt.Errorf("names: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return 0, fmt.Errorf("names: %w", err)
	}
	return kept, nil
}

// List is the JSON body both ways: the names to resolve (GET), and what
// was found (POST, in Resolved).
type List struct {
	Names    []string            `json:"names,omitempty"`
	Resolved map[string][]string `json:"resolved,omitempty"`
}

// Handler serves GET and POST /api/v1/agents/{id}/names to agents. At most
// maxPosts posts are decoded at once (a post is at most 4 MiB, and agents
// post once per dependency cycle): more are answered 429, to be sent again.
func (s *Store) Handler(agents *auth.Agents) http.Handler {
	posts := make(chan struct{}, maxPosts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := agents.Self(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodGet {
			names := s.Wanted()
			json.NewEncoder(w).Encode(List{Names: names[:min(len(names), MaxNames)]})
			return
		}
		select {
		case posts <- struct{}{}:
			defer func() { <-posts }()
		default:
			w.Header().Set("Retry-After", "5")
			http.Error(w, `{"status":"error","error":"names: too many posts at once; send again later"}`, http.StatusTooManyRequests)
			return
		}
		var l List
		dec := json.NewDecoder(io.LimitReader(r.Body, maxPostBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			http.Error(w, fmt.Sprintf(`{"status":"error","error":%q}`, "names: body (at most 4 MiB of {\"resolved\": {name: [addr]}}): "+err.Error()), http.StatusBadRequest)
			return
		}
		if len(l.Resolved) > MaxNames {
			http.Error(w, fmt.Sprintf(`{"status":"error","error":"names: more than %d names in one post"}`, MaxNames), http.StatusRequestEntityTooLarge)
			return
		}
		kept, err := s.Put(id.Agent, l.Resolved, time.Now())
		if err != nil {
			http.Error(w, `{"status":"error","error":"names: not saved"}`, http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]int{"kept": kept}})
	})
}
