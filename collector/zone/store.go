package zone

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Store keeps zone snapshots under dir/<origin>/, one JSON file per
// import, so later imports can be compared with earlier ones.
type Store struct{ dir string }

// NewStore returns a store rooted at dir.
func NewStore(dir string) *Store { return &Store{dir: dir} }

// ErrBadOrigin is returned for an origin that is not a DNS name: it could
// otherwise name a path outside the store.
var ErrBadOrigin = errors.New("not a DNS zone name")

// zoneDir is the directory of origin, confined to the store: an origin is
// DNS labels of letters, digits, '-' and '_' only, so it holds no '/' and no '..'.
func (s *Store) zoneDir(origin string) (string, error) {
	o := strings.ToLower(strings.TrimSuffix(origin, "."))
	if o == "" {
		return filepath.Join(s.dir, "root"), nil
	}
	if len(o) > 253 {
		return "", fmt.Errorf("zone %.40q...: %w", origin, ErrBadOrigin)
	}
	for _, label := range strings.Split(o, ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return "", fmt.Errorf("zone %q: %w", origin, ErrBadOrigin)
		}
	}
	return filepath.Join(s.dir, o), nil
}

// Save writes a snapshot atomically.
func (s *Store) Save(snap *Snapshot) (string, error) {
	dir, err := s.zoneDir(snap.Origin)
	if err != nil {
		return "", fmt.Errorf("zone store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("zone store: %w", err)
	}
	name := filepath.Join(dir, snap.Exported.UTC().Format("20060102T150405Z")+".json")
	b, err := json.Marshal(snap)
	if err != nil {
		return "", fmt.Errorf("zone store: %w", err)
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return "", fmt.Errorf("zone store: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return "", fmt.Errorf("zone store: %w", err)
	}
	return name, nil
}

// Origins lists the zones stored.
func (s *Store) Origins() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zone store: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name()+".")
		}
	}
	return out, nil
}

// Latest returns the newest snapshot of origin, and the one before it
// (nil when there is none).
func (s *Store) Latest(origin string) (latest, previous *Snapshot, err error) {
	dir, err := s.zoneDir(origin)
	if err != nil {
		return nil, nil, fmt.Errorf("zone store: %w", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	slices.Sort(files)
	load := func(p string) (*Snapshot, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("zone store: %w", err)
		}
		var snap Snapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			return nil, fmt.Errorf("zone store: %s: %w", p, err)
		}
		return &snap, nil
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("zone store: no import of %s yet: run `bulwark zone import FILE`", origin)
	}
	if latest, err = load(files[len(files)-1]); err != nil {
		return nil, nil, err
	}
	if len(files) > 1 {
		if previous, err = load(files[len(files)-2]); err != nil {
			return nil, nil, err
		}
	}
	return latest, previous, nil
}
