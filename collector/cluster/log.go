package cluster

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
)

// LeaseGC is the duty of collecting the shared notification log and the
// claims: one member does it, with its own view of the groups held.
const LeaseGC = "gc"

// Log is the notification log the dispatcher uses: fallback when alone;
// otherwise the shared one, with a copy in memory of what this member
// read and wrote, which it works from while the database is unreachable
// and writes back (the newer send wins) when it returns.
func (c *Cluster) Log(fallback alerting.Log) alerting.Log {
	if c.Alone() {
		return fallback
	}
	return c.log
}

type logKey struct{ receiver, group string }

type cachedLog struct {
	c *Cluster

	mu      sync.Mutex
	entries map[logKey]alerting.LogEntry
	dirty   map[logKey]bool // written while the database was unreachable
}

var _ alerting.Log = (*cachedLog)(nil)

func (l *cachedLog) Get(ctx context.Context, receiver, group string) (alerting.LogEntry, bool, error) {
	k := logKey{receiver, group}
	cctx, cancel := l.c.callCtx(ctx)
	e, ok, err := l.c.opts.Store.Get(cctx, receiver, group)
	cancel()
	if !l.c.result(err) {
		l.mu.Lock()
		defer l.mu.Unlock()
		e, ok := l.entries[k]
		e.Starts = maps.Clone(e.Starts)
		return e, ok, nil
	}
	l.mu.Lock()
	mine, dirty := l.entries[k], l.dirty[k]
	l.mu.Unlock()
	if dirty && (!ok || mine.SentAt.After(e.SentAt)) {
		// Not written back yet, and newer: write it back now.
		cctx, cancel := l.c.callCtx(ctx)
		err := l.c.opts.Store.Put(cctx, receiver, group, mine)
		cancel()
		e, ok = mine, true
		if !l.c.result(err) {
			return e, ok, nil
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.dirty, k)
	if ok {
		l.entries[k] = e
	}
	e.Starts = maps.Clone(e.Starts)
	return e, ok, nil
}

func (l *cachedLog) Put(ctx context.Context, receiver, group string, e alerting.LogEntry) error {
	if l.c.isKilled() {
		return nil
	}
	k := logKey{receiver, group}
	e.Starts = maps.Clone(e.Starts)
	l.mu.Lock()
	l.entries[k] = e
	l.mu.Unlock()
	cctx, cancel := l.c.callCtx(ctx)
	err := l.c.opts.Store.Put(cctx, receiver, group, e)
	cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.c.result(err) {
		l.dirty[k] = true
		return nil // kept here, written back when the database returns
	}
	delete(l.dirty, k)
	return nil
}

// reconcile writes back what was written while the database was
// unreachable, where the database holds nothing newer.
func (l *cachedLog) reconcile(ctx context.Context) {
	l.mu.Lock()
	keys := make([]logKey, 0, len(l.dirty))
	for k := range l.dirty {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	for _, k := range keys {
		cctx, cancel := l.c.callCtx(ctx)
		theirs, ok, err := l.c.opts.Store.Get(cctx, k.receiver, k.group)
		cancel()
		if !l.c.result(err) {
			return
		}
		l.mu.Lock()
		mine, still := l.entries[k], l.dirty[k]
		l.mu.Unlock()
		if !still {
			continue
		}
		if !ok || mine.SentAt.After(theirs.SentAt) {
			cctx, cancel := l.c.callCtx(ctx)
			err = l.c.opts.Store.Put(cctx, k.receiver, k.group, mine)
			cancel()
			if !l.c.result(err) {
				return
			}
		}
		l.mu.Lock()
		if ok && !mine.SentAt.After(theirs.SentAt) {
			l.entries[k] = theirs
		}
		delete(l.dirty, k)
		l.mu.Unlock()
	}
}

// GC forgets old entries here, and, on the member holding the GC lease,
// in the database (the log and the claims).
func (l *cachedLog) GC(ctx context.Context, before time.Time, live func(receiver, groupKey string) bool) (int, error) {
	l.mu.Lock()
	for k, e := range l.entries {
		if e.SentAt.Before(before) && !l.dirty[k] && !live(k.receiver, k.group) {
			delete(l.entries, k)
		}
	}
	l.mu.Unlock()
	if !l.c.Leader(LeaseGC) {
		return 0, nil
	}
	n, err := l.c.opts.Store.GC(ctx, before, live)
	if err != nil {
		return n, err
	}
	_, err = l.c.opts.Store.GCClaims(ctx, before)
	return n, err
}
