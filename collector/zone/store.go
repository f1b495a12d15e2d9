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

func (s *Store) zoneDir(origin string) string {
	o := strings.TrimSuffix(origin, ".")
	if o == "" {
		o = "root"
	}
	return filepath.Join(s.dir, o)
}

// Save writes a snapshot atomically.
func (s *Store) Save(snap *Snapshot) (string, error) {
	dir := s.zoneDir(snap.Origin)
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
	files, _ := filepath.Glob(filepath.Join(s.zoneDir(origin), "*.json"))
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
