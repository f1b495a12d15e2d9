package alerting

import (
	"context"
	"maps"
	"strings"
	"sync"
	"time"
)

// LogEntry is what the notification log keeps of the last notification
// of a group to a receiver.
type LogEntry struct {
	FiringHash, ResolvedHash [32]byte
	SentAt                   time.Time
	// Thread is the receiver's reference for the incident's first message;
	// a new incident starts a new one.
	Thread string
	// Since is when the incident was first notified firing (zero once it
	// has resolved): escalation counts from it, across restarts.
	Since time.Time
	// Incident identifies the open firing episode ("" when none is open):
	// written before its first notification is sent, so a notification
	// sent again after a crash keeps its id.
	Incident string
	// Version counts the notifications of the incident told so far; the
	// next notification's id is Incident and Version+1.
	Version uint64
	// Starts is when each alert told firing in the incident began, so a
	// restart (whose rule manager starts its alerts afresh) does not move
	// an alert's startsAt.
	Starts map[uint64]time.Time
}

// closed is the entry of a group whose incident has ended: what was told
// last is remembered, everything of the incident is forgotten.
func (e LogEntry) closed(resolvedHash [32]byte, sent time.Time) LogEntry {
	return LogEntry{FiringHash: emptyHash, ResolvedHash: resolvedHash, SentAt: sent}
}

// open reports whether an incident is open (told firing, not yet resolved).
func (e LogEntry) open() bool { return e.Incident != "" || !e.Since.IsZero() }

// emptyHash is the hash of no alerts.
var emptyHash = hashSorted(nil)

// Log is the notification log: persistent, so a restart does not tell an
// unchanged incident again. Delivery is at least once: a crash between a
// send and its Put sends that notification again, with the same id.
type Log interface {
	Get(ctx context.Context, receiver, groupKey string) (LogEntry, bool, error)
	Put(ctx context.Context, receiver, groupKey string, e LogEntry) error
	// GC deletes the entries last written before before, except those of
	// the groups live reports as held; it returns how many it deleted.
	GC(ctx context.Context, before time.Time, live func(receiver, groupKey string) bool) (int, error)
}

// MemLog is a notification log in memory, for tests and the demo.
type MemLog struct {
	mu sync.Mutex
	m  map[string]LogEntry
}

var _ Log = (*MemLog)(nil)

// Get returns the entry of a group.
func (l *MemLog) Get(_ context.Context, receiver, key string) (LogEntry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[receiver+"\x00"+key]
	e.Starts = maps.Clone(e.Starts)
	return e, ok, nil
}

// Put records the entry of a group.
func (l *MemLog) Put(_ context.Context, receiver, key string, e LogEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]LogEntry{}
	}
	e.Starts = maps.Clone(e.Starts)
	l.m[receiver+"\x00"+key] = e
	return nil
}

// GC deletes old entries of groups not held.
func (l *MemLog) GC(_ context.Context, before time.Time, live func(receiver, groupKey string) bool) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, e := range l.m {
		rcv, key, _ := strings.Cut(k, "\x00")
		if e.SentAt.Before(before) && !live(rcv, key) {
			delete(l.m, k)
			n++
		}
	}
	return n, nil
}

// Len is the number of entries held.
func (l *MemLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
