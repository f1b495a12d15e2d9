package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
)

var pg postgres.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

var errDown = errors.New("connection refused (test partition)")

// partStore is the shared store as one member reaches it: cut off while
// down is set.
type partStore struct {
	Store
	down atomic.Bool
}

func (s *partStore) err() error {
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s *partStore) Get(ctx context.Context, r, g string) (alerting.LogEntry, bool, error) {
	if err := s.err(); err != nil {
		return alerting.LogEntry{}, false, err
	}
	return s.Store.Get(ctx, r, g)
}

func (s *partStore) Put(ctx context.Context, r, g string, e alerting.LogEntry) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Put(ctx, r, g, e)
}

func (s *partStore) Beat(ctx context.Context, m state.Member) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Beat(ctx, m)
}

func (s *partStore) AcquireLease(ctx context.Context, name, inst, member string, now time.Time, ttl time.Duration) (bool, error) {
	if err := s.err(); err != nil {
		return false, err
	}
	return s.Store.AcquireLease(ctx, name, inst, member, now, ttl)
}

func (s *partStore) Claim(ctx context.Context, r state.ClaimRequest) (string, error) {
	if err := s.err(); err != nil {
		return "", err
	}
	return s.Store.Claim(ctx, r)
}

func (s *partStore) Settle(ctx context.Context, item, inst string, done bool, now time.Time) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Settle(ctx, item, inst, done, now)
}

// fakeClock is the members' shared clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// member is one collector of the model: its cluster membership, its
// partition, and whether it is dead (killed, not yet restarted).
type member struct {
	name string
	c    *Cluster
	reg  *prometheus.Registry
	part *partStore
	dead bool
	dups float64 // possible duplicates counted by earlier incarnations
}

// Random sequences of deliveries, crashes (a member killed between its
// send and its record), lease expiry and PostgreSQL cut off from one or
// every member, across 2-3 members sharing a real PostgreSQL. Checked:
// every item is delivered at least once; at most one delivery of an item
// is unmarked (every duplicate is marked a possible duplicate, hence
// only after a crash or an outage) and every marked one is counted; at
// no time do two members hold the same lease.
func TestClusterProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CLUSTER_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (CLUSTER_SEED to replay)", seed)
	for run := range 4 {
		t.Run(fmt.Sprint(run), func(t *testing.T) { clusterRun(t, rand.New(rand.NewPCG(seed, uint64(run)))) })
	}
}

func clusterRun(t *testing.T, rng *rand.Rand) {
	ctx := context.Background()
	db, err := state.New(ctx, state.Options{Driver: state.Postgres, DSN: pg.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := &fakeClock{t: time.UnixMilli(1_790_000_000_000)}
	const lease = 10 * time.Second
	start := func(m *member) {
		m.reg = prometheus.NewRegistry()
		c, err := New(Options{Store: m.part, Member: m.name, Lease: lease, Duties: []string{"heartbeat"}, Now: clock.now, Registerer: m.reg})
		if err != nil {
			t.Fatal(err)
		}
		m.c, m.dead = c, false
	}
	members := make([]*member, 2+rng.IntN(2))
	for i := range members {
		members[i] = &member{name: fmt.Sprint("m", i), part: &partStore{Store: db}}
		start(members[i])
	}
	// deliveries of each item: marked and unmarked.
	type count struct{ marked, unmarked int }
	delivered := map[string]*count{}
	items := []string{}
	// try has m deliver item if its log says it is not yet: the
	// dispatcher's flush in small. crash: it dies between send and record.
	try := func(m *member, item string, crash bool) {
		log := m.c.Log(nil)
		e, _, _ := log.Get(ctx, "duty", item)
		if e.Version > 0 {
			return
		}
		claim := item + "/v0"
		granted, dup := m.c.Claim(ctx, claim, item, time.Minute)
		if !granted {
			return
		}
		if dup {
			delivered[item].marked++
		} else {
			delivered[item].unmarked++
		}
		if crash {
			m.c.Kill()
			m.dups += testutil.ToFloat64(m.c.m.dups.WithLabelValues("takeover")) + testutil.ToFloat64(m.c.m.dups.WithLabelValues("unreachable"))
			m.dead = true
			return
		}
		log.Put(ctx, "duty", item, alerting.LogEntry{Version: 1, SentAt: clock.now()})
		m.c.Settle(ctx, claim, true)
	}
	for step := range 150 {
		m := members[rng.IntN(len(members))]
		switch r := rng.IntN(40); {
		case r < 4 && len(items) < 12:
			it := fmt.Sprint("item", len(items))
			items = append(items, it)
			delivered[it] = &count{}
		case r < 6:
			if !m.dead {
				m.c.Kill()
				m.dups += testutil.ToFloat64(m.c.m.dups.WithLabelValues("takeover")) + testutil.ToFloat64(m.c.m.dups.WithLabelValues("unreachable"))
				m.dead = true
			} else {
				start(m)
			}
		case r < 8:
			m.part.down.Store(!m.part.down.Load())
		case r < 9:
			down := rng.IntN(2) == 0
			for _, x := range members {
				x.part.down.Store(down)
			}
		case r < 15:
			clock.advance(time.Duration(rng.IntN(8000)) * time.Millisecond)
		default:
			if !m.dead && len(items) > 0 {
				try(m, items[rng.IntN(len(items))], rng.IntN(3) == 0)
			}
		}
		leaders := 0
		for _, x := range members {
			if !x.dead {
				x.c.tick(ctx)
				if x.c.Leader("heartbeat") {
					leaders++
				}
			}
		}
		if leaders > 1 {
			t.Fatalf("step %d: %d members hold the heartbeat lease", step, leaders)
		}
	}
	// Heal: everyone back and reachable, past every lease; each member
	// keeps trying until its log says every item was delivered.
	for _, m := range members {
		m.part.down.Store(false)
		if m.dead {
			start(m)
		}
	}
	for range 3 {
		clock.advance(lease)
		for _, m := range members {
			m.c.tick(ctx)
		}
	}
	for _, it := range items {
		for _, m := range members {
			try(m, it, false)
		}
	}
	marked := 0.0
	for _, it := range items {
		c := delivered[it]
		if c.marked+c.unmarked == 0 {
			t.Errorf("%s never delivered", it)
		}
		if c.unmarked > 1 {
			t.Errorf("%s delivered %d times unmarked", it, c.unmarked)
		}
		marked += float64(c.marked)
	}
	counted := 0.0
	for _, m := range members {
		counted += m.dups + testutil.ToFloat64(m.c.m.dups.WithLabelValues("takeover")) + testutil.ToFloat64(m.c.m.dups.WithLabelValues("unreachable"))
	}
	if counted != marked {
		t.Errorf("%v deliveries marked possible duplicates, %v counted", marked, counted)
	}
	takeovers := 0.0
	for _, m := range members {
		takeovers += testutil.ToFloat64(m.c.m.claims.WithLabelValues("taken_over"))
	}
	t.Logf("%d members, %d items, %v marked deliveries, %v takeovers by the last incarnations", len(members), len(items), marked, takeovers)
}
