package alerting

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// SilenceStore keeps silences and acknowledgements across restarts.
type SilenceStore interface {
	LoadSilences(ctx context.Context) ([]*Silence, error)
	SaveSilence(ctx context.Context, s *Silence) error
	LoadAcks(ctx context.Context) ([]*Ack, error)
	SaveAck(ctx context.Context, a *Ack) error
	// DeleteSilence forgets a silence (collected after its retention).
	DeleteSilence(ctx context.Context, id string) error
	// CompactAcks keeps only the acknowledgements given, the ones in force.
	CompactAcks(ctx context.Context, live []*Ack) error
}

// Ack is an acknowledgement of an incident (a group): while it holds, the
// group is not notified again unless its alerts change.
type Ack struct {
	GroupKey string    `json:"groupKey"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Comment  string    `json:"comment"`
	Removed  bool      `json:"removed,omitempty"` // un-acknowledged
}

// ErrNotFound is returned for an unknown silence.
var ErrNotFound = errors.New("not found")

// Silencer holds the silences and acknowledgements in force.
type Silencer struct {
	store SilenceStore
	now   func() time.Time

	mu       sync.RWMutex
	silences []*Silence
	idx      *silenceIndex // of the silences not ended; nil: to build
	acks     map[string]*Ack
}

// NewSilencer loads what store holds.
func NewSilencer(ctx context.Context, store SilenceStore, now func() time.Time) (*Silencer, error) {
	if now == nil {
		now = time.Now
	}
	s := &Silencer{store: store, now: now, acks: map[string]*Ack{}}
	list, err := store.LoadSilences(ctx)
	if err != nil {
		return nil, err
	}
	for _, sil := range list {
		if err := sil.Prepare(); err != nil {
			return nil, fmt.Errorf("silence %s: %w", sil.ID, err)
		}
	}
	s.silences = list
	acks, err := store.LoadAcks(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range acks {
		if !a.Removed {
			s.acks[a.GroupKey] = a
		}
	}
	return s, nil
}

// Add validates and stores a new silence, and returns it with its id.
func (s *Silencer) Add(ctx context.Context, sil *Silence) (*Silence, error) {
	if sil.StartsAt.IsZero() {
		sil.StartsAt = s.now()
	}
	if err := sil.Prepare(); err != nil {
		return nil, err
	}
	sil.ID = rand.Text()[:12]
	if err := s.store.SaveSilence(ctx, sil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.silences = append(s.silences, sil)
	s.idx = nil
	s.mu.Unlock()
	return sil, nil
}

// Expire ends a silence now.
func (s *Silencer) Expire(ctx context.Context, id string) (*Silence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.silences, func(x *Silence) bool { return x.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("silence %q: %w", id, ErrNotFound)
	}
	expired := *s.silences[i]
	if now := s.now(); now.Before(expired.EndsAt) {
		expired.EndsAt = now
		if !expired.EndsAt.After(expired.StartsAt) {
			expired.StartsAt = expired.EndsAt.Add(-time.Millisecond)
		}
	}
	if err := s.store.SaveSilence(ctx, &expired); err != nil {
		return nil, err
	}
	s.silences[i] = &expired
	s.idx = nil
	return &expired, nil
}

// List returns the silences that have not ended, and the ended ones of
// the last day.
func (s *Silencer) List() []*Silence {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Silence
	for _, x := range s.silences {
		if now.Sub(x.EndsAt) < 24*time.Hour {
			out = append(out, x)
		}
	}
	return out
}

// Muted returns the silence muting ls now, if any. It looks only at the
// silences not ended, through an index by one of their equality matchers.
func (s *Silencer) Muted(ls labels.Labels) *Silence {
	now := s.now()
	s.mu.RLock()
	idx := s.idx
	s.mu.RUnlock()
	if idx == nil || !now.Before(idx.until) {
		s.mu.Lock()
		if s.idx == nil || !now.Before(s.idx.until) {
			s.idx = buildIndex(s.silences, now)
		}
		idx = s.idx
		s.mu.Unlock()
	}
	return idx.muting(ls, now)
}

// Acknowledge records that by has taken an incident (on) or gives it back.
func (s *Silencer) Acknowledge(ctx context.Context, groupKey, by, comment string, on bool) (*Ack, error) {
	a := &Ack{GroupKey: groupKey, By: by, At: s.now(), Comment: comment, Removed: !on}
	if err := s.store.SaveAck(ctx, a); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.acks[groupKey] = a
	} else {
		delete(s.acks, groupKey)
	}
	return a, nil
}

// Acked returns the acknowledgement of a group, if any.
func (s *Silencer) Acked(groupKey string) *Ack {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.acks[groupKey]
}

// EndAck ends the acknowledgement of a group whose incident has ended: an
// acknowledgement belongs to one incident, and the next starts unacknowledged.
func (s *Silencer) EndAck(ctx context.Context, groupKey string) error {
	s.mu.RLock()
	_, ok := s.acks[groupKey]
	s.mu.RUnlock()
	if !ok {
		return nil
	}
	_, err := s.Acknowledge(ctx, groupKey, "bulwark", "the incident ended", false)
	return err
}

// GC forgets the silences that ended more than retention ago, and the
// acknowledgements older than that of groups held reports as gone; the
// store keeps only the acknowledgements in force.
func (s *Silencer) GC(ctx context.Context, retention time.Duration, held func(groupKey string) bool) error {
	before := s.now().Add(-retention)
	s.mu.Lock()
	var gone []string
	s.silences = slices.DeleteFunc(s.silences, func(x *Silence) bool {
		if x.EndsAt.Before(before) {
			gone = append(gone, x.ID)
			return true
		}
		return false
	})
	for k, a := range s.acks {
		if a.At.Before(before) && !held(k) {
			delete(s.acks, k)
		}
	}
	live := slices.Collect(maps.Values(s.acks))
	if len(gone) > 0 {
		s.idx = nil
	}
	s.mu.Unlock()
	for _, id := range gone {
		if err := s.store.DeleteSilence(ctx, id); err != nil {
			return fmt.Errorf("silence %s: %w", id, err)
		}
	}
	slices.SortFunc(live, func(a, b *Ack) int { return a.At.Compare(b.At) })
	return s.store.CompactAcks(ctx, live)
}

// MemSilenceStore keeps silences in memory (tests).
type MemSilenceStore struct {
	mu       sync.Mutex
	silences map[string]*Silence
	acks     []*Ack
}

func (m *MemSilenceStore) LoadSilences(context.Context) ([]*Silence, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Silence
	for _, s := range m.silences {
		c := *s
		out = append(out, &c)
	}
	return out, nil
}

func (m *MemSilenceStore) SaveSilence(_ context.Context, s *Silence) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.silences == nil {
		m.silences = map[string]*Silence{}
	}
	c := *s
	m.silences[s.ID] = &c
	return nil
}

func (m *MemSilenceStore) DeleteSilence(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.silences, id)
	return nil
}

func (m *MemSilenceStore) CompactAcks(_ context.Context, live []*Ack) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks = slices.Clone(live)
	return nil
}

// Len is the number of silences and acknowledgement records kept.
func (m *MemSilenceStore) Len() (silences, acks int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.silences), len(m.acks)
}

func (m *MemSilenceStore) LoadAcks(context.Context) ([]*Ack, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.acks), nil
}

func (m *MemSilenceStore) SaveAck(_ context.Context, a *Ack) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks = append(m.acks, a)
	return nil
}
