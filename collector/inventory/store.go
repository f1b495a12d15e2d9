package inventory

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Store keeps imported targets in a JSON file, replaced atomically.
type Store struct {
	path string

	mu      sync.RWMutex
	targets map[string]target.Target
	version atomic.Uint64 // bumped by every change written
}

// Open loads the store at path (a missing file is an empty store).
func Open(path string) (*Store, error) {
	s := &Store{path: path, targets: map[string]target.Target{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	var ts []target.Target
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, fmt.Errorf("inventory: %s: %w", path, err)
	}
	for _, t := range ts {
		s.targets[t.ID] = t
	}
	return s, nil
}

// Diff is what an import changes.
type Diff struct {
	Added     []string `json:"added"`
	Changed   []string `json:"changed"`
	Unchanged int      `json:"unchanged"`
}

func (d Diff) String() string {
	return fmt.Sprintf("%d added, %d changed, %d unchanged", len(d.Added), len(d.Changed), d.Unchanged)
}

// Upsert adds or replaces targets by id. With dryRun nothing is written.
// Upserting the same file twice changes nothing the second time.
func (s *Store) Upsert(ts []target.Target, dryRun bool) (Diff, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d Diff
	next := make(map[string]target.Target, len(s.targets)+len(ts))
	for k, v := range s.targets {
		next[k] = v
	}
	for _, t := range ts {
		old, ok := next[t.ID]
		switch {
		case !ok:
			d.Added = append(d.Added, t.ID)
		case reflect.DeepEqual(old, t):
			d.Unchanged++
			continue
		default:
			d.Changed = append(d.Changed, t.ID)
		}
		next[t.ID] = t
	}
	if dryRun || len(d.Added)+len(d.Changed) == 0 {
		return d, nil
	}
	if err := write(s.path, sorted(next)); err != nil {
		return Diff{}, err
	}
	s.targets = next
	s.version.Add(1)
	return d, nil
}

// Version changes whenever the stored targets do: what is derived from
// them (the DNS report's domain types) can be cached under it.
func (s *Store) Version() uint64 { return s.version.Load() }

// Targets returns every target, by id.
func (s *Store) Targets() []target.Target {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sorted(s.targets)
}

func sorted(m map[string]target.Target) []target.Target {
	out := make([]target.Target, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b target.Target) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func write(path string, ts []target.Target) error {
	b, err := json.Marshal(ts)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("inventory: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("inventory: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	return nil
}

// Types maps the stored targets' host names to their types.
func Types(s *Store) map[string]string {
	out := map[string]string{}
	for _, t := range s.Targets() {
		if h := t.Hostname(); h != "" && t.Type != "" {
			out[strings.ToLower(h)] = t.Type
		}
	}
	return out
}
