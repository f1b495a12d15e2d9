package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// DefaultPoll is how often Watch asks the state database whether another
// collector imported targets: such an import is seen here within it (plus
// the time to read the new rows).
const DefaultPoll = 2 * time.Second

// Options say where a Store keeps its targets.
type Options struct {
	// DB is the state database the targets are kept in.
	DB *state.DB
	// Legacy is the JSON file older releases kept the targets in
	// (DATA_DIR/state/targets.json). When it exists, its targets are
	// imported into DB once and it is renamed Legacy+".imported".
	Legacy string
	Logger *slog.Logger
}

// New opens the targets kept in the state database, importing the file
// of an older release first when there is one.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.DB == nil {
		return nil, errors.New("inventory: no state database")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: o.DB, targets: map[string]target.Target{}}
	s.mu.Lock()
	_, err := s.refresh(ctx)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if o.Legacy != "" {
		if err := s.importLegacy(ctx, o.Legacy, o.Logger); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// importLegacy imports the targets of an older release's JSON file and
// renames it, so it is read once. A crash between the two imports it
// again at the next start, which changes nothing.
func (s *Store) importLegacy(ctx context.Context, path string, log *slog.Logger) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	old, err := Open(path)
	if err != nil {
		return err
	}
	ts := old.Targets()
	d, err := s.UpsertContext(ctx, ts, false)
	if err != nil {
		return fmt.Errorf("inventory: importing %s: %w", path, err)
	}
	done := path + ".imported"
	if err := os.Rename(path, done); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	log.Info("imported the targets of an older release's file into the state database; the file is renamed and read no more",
		"file", path, "renamed", done, "targets", len(ts), "added", len(d.Added), "changed", len(d.Changed), "unchanged", d.Unchanged)
	return nil
}

// upsertDB computes the import's diff over what other collectors
// imported since the last read (read first), and writes what changes in
// one transaction that other collectors' imports wait for; inside it the
// rows another collector wrote meanwhile are read and the diff computed
// again over them, so it stays exact. Called with s.mu held.
func (s *Store) upsertDB(ctx context.Context, ts []target.Target, dryRun bool) (Diff, error) {
	if _, err := s.refresh(ctx); err != nil {
		return Diff{}, err
	}
	d, changed := s.diff(ts)
	if dryRun || len(changed) == 0 {
		return d, nil
	}
	v, err := s.db.UpdateTargets(ctx, s.version.Load(), func(newer []target.Target, full bool, v uint64) ([]target.Target, error) {
		s.merge(newer, full, v)
		d, changed = s.diff(ts)
		return changed, nil
	})
	if err != nil {
		return Diff{}, fmt.Errorf("inventory: %w", err)
	}
	for _, t := range changed {
		s.targets[t.ID] = t
	}
	s.version.Store(v)
	return d, nil
}

// merge takes in what the database holds after version v: all of it
// (full) or what was written after the version held. Called with s.mu held.
func (s *Store) merge(ts []target.Target, full bool, v uint64) {
	if full {
		clear(s.targets)
	}
	for _, t := range ts {
		s.targets[t.ID] = t
	}
	s.version.Store(v)
}

// Refresh reads what other collectors imported since the last read and
// reports whether anything changed. It costs one row read when nothing did.
func (s *Store) Refresh(ctx context.Context) (bool, error) {
	if s.db == nil {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh(ctx)
}

// refresh is Refresh with s.mu held.
func (s *Store) refresh(ctx context.Context) (bool, error) {
	have := s.version.Load()
	v, err := s.db.TargetsVersion(ctx)
	if err != nil {
		return false, fmt.Errorf("inventory: %w", err)
	}
	if v == have {
		return false, nil
	}
	since := have
	if v < have { // the database was replaced (a restore): read it whole
		since = 0
	}
	ts, v, err := s.db.TargetsSince(ctx, since)
	if err != nil {
		return false, fmt.Errorf("inventory: %w", err)
	}
	s.merge(ts, since == 0, v)
	return true, nil
}

// Watch refreshes the store every poll (DefaultPoll when 0) until ctx
// ends, calling changed after each refresh that found another
// collector's import. A failed refresh is logged and tried again.
func (s *Store) Watch(ctx context.Context, poll time.Duration, log *slog.Logger, changed func()) {
	if s.db == nil {
		return
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ok, err := s.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				log.Warn("inventory: reading the imported targets from the state database failed; keeping those held", "err", err)
			}
			failing = true
		case err == nil:
			if failing {
				log.Info("inventory: reading the imported targets from the state database again")
			}
			failing = false
			if ok && changed != nil {
				changed()
			}
		}
	}
}
