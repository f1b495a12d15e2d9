package inventory

import (
	"cmp"
	"context"
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

	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// Store keeps imported targets: in the state database (New), shared by
// every collector on it, or in a JSON file replaced atomically (Open: the
// layout before the state database, read once to upgrade).
type Store struct {
	path string    // the JSON file, for Open
	db   *state.DB // the state database, for New

	mu      sync.RWMutex
	targets map[string]target.Target
	// version is bumped by every change written; with a database it is
	// the database's version of the targets held.
	version atomic.Uint64
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
	return s.UpsertContext(context.Background(), ts, dryRun)
}

// UpsertContext is Upsert with a context for the database.
func (s *Store) UpsertContext(ctx context.Context, ts []target.Target, dryRun bool) (Diff, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		return s.upsertDB(ctx, ts, dryRun)
	}
	d, write1 := s.diff(ts)
	if dryRun || len(write1) == 0 {
		return d, nil
	}
	next := make(map[string]target.Target, len(s.targets)+len(write1))
	for k, v := range s.targets {
		next[k] = v
	}
	for _, t := range write1 {
		next[t.ID] = t
	}
	if err := write(s.path, sorted(next)); err != nil {
		return Diff{}, err
	}
	s.targets = next
	s.version.Add(1)
	return d, nil
}

// diff compares ts with the targets held and returns what an import
// of them changes, and the targets to write (added and changed).
func (s *Store) diff(ts []target.Target) (Diff, []target.Target) {
	var d Diff
	var out []target.Target
	at := map[string]int{} // id -> index in out: a later row of one id replaces it
	for _, t := range ts {
		i, pending := at[t.ID]
		old, ok := s.targets[t.ID]
		if pending {
			old, ok = out[i], true
		}
		switch {
		case !ok:
			d.Added = append(d.Added, t.ID)
		case reflect.DeepEqual(old, t):
			d.Unchanged++
			continue
		default:
			d.Changed = append(d.Changed, t.ID)
		}
		if pending {
			out[i] = t
			continue
		}
		at[t.ID] = len(out)
		out = append(out, t)
	}
	return d, out
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
