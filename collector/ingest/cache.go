package ingest

import (
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// seriesCache remembers, per agent and incoming label set, the stamped
// labels and the store's series reference, so a known series is appended
// without building its labels again. A stale reference is harmless: the
// head falls back to a lookup by labels.
type seriesCache struct {
	shards [cacheShards]cacheShard
	max    int // entries per shard before it is emptied
}

const cacheShards = 16

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]cacheEntry
}

type cacheEntry struct {
	lset labels.Labels
	ref  storage.SeriesRef
}

func newSeriesCache(maxEntries int) *seriesCache {
	c := &seriesCache{max: max(maxEntries/cacheShards, 1)}
	for i := range c.shards {
		c.shards[i].m = map[uint64]cacheEntry{}
	}
	return c
}

// skipLabel tells which incoming labels the collector drops: it owns agent
// and vantage, and an empty value means the label is absent.
func skipLabel(l wire.Label) bool {
	return l.Name == "agent" || l.Name == "vantage" || l.Value == ""
}

// key hashes the agent and the incoming labels that are kept.
func key(agent string, ls []wire.Label) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(agent)
	for _, l := range ls {
		if skipLabel(l) {
			continue
		}
		d.Write([]byte{0xff})
		d.WriteString(l.Name)
		d.Write([]byte{0xfe})
		d.WriteString(l.Value)
	}
	return d.Sum64()
}

func (c *seriesCache) get(h uint64, id string, ls []wire.Label) (cacheEntry, bool) {
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	if !ok || !sameLabels(e.lset, id, ls) {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *seriesCache) put(h uint64, e cacheEntry) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	if len(s.m) >= c.max {
		clear(s.m)
	}
	s.m[h] = e
	s.mu.Unlock()
}

// sameLabels guards against hash collisions: lset must be exactly the
// incoming labels stamped with agent id.
func sameLabels(lset labels.Labels, agent string, ls []wire.Label) bool {
	if lset.Get("agent") != agent {
		return false
	}
	i, same := 0, true
	lset.Range(func(l labels.Label) {
		if !same || l.Name == "agent" || l.Name == "vantage" {
			return
		}
		for i < len(ls) && skipLabel(ls[i]) {
			i++
		}
		if i == len(ls) || ls[i].Name != l.Name || ls[i].Value != l.Value {
			same = false
			return
		}
		i++
	})
	for i < len(ls) && skipLabel(ls[i]) {
		i++
	}
	return same && i == len(ls)
}
