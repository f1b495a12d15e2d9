// Package cluster coordinates collectors that share one PostgreSQL state
// database, through that database alone (no consensus of its own):
// members register and beat; a named lease gives one member a duty (the
// heartbeat, the schedules) until it stops renewing; a claim gives one
// member a once-only item (a notification). On SQLite, the default, a
// collector is alone: leader of every lease, granted every claim.
//
// A member that loses PostgreSQL keeps working alone: it grants itself
// its claims (counted as possible duplicates), keeps the notification log
// in memory, holds no lease, and writes its log back when the database
// returns.
package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/state"
)

// DefaultLease is how long a lease (and a member's liveness) lasts
// without renewal: a dead member's duties move within it plus one renewal
// interval (a fifth of it).
const DefaultLease = 10 * time.Second

// Store is the shared state the cluster is decided in (*state.DB on
// PostgreSQL).
type Store interface {
	alerting.Log
	Beat(ctx context.Context, m state.Member) error
	Leave(ctx context.Context, instance string, before time.Time) error
	Members(ctx context.Context) ([]state.Member, error)
	AcquireLease(ctx context.Context, name, instance, member string, now time.Time, ttl time.Duration) (bool, error)
	Leases(ctx context.Context) ([]state.Lease, error)
	Claim(ctx context.Context, r state.ClaimRequest) (takenFrom string, err error)
	Settle(ctx context.Context, item, instance string, done bool, now time.Time) error
	GCClaims(ctx context.Context, before time.Time) (int, error)
}

var _ Store = (*state.DB)(nil)

// Options configure a Cluster.
type Options struct {
	// Store is the shared database; nil: this collector is alone.
	Store Store
	// Member names this collector (default: its host name); Address is
	// where it is reached, Version its build, both shown in the status.
	Member, Address, Version string
	// Lease is a lease's length (default DefaultLease); leases are renewed
	// every fifth of it, and each call to the store waits at most that.
	Lease time.Duration
	// Duties are the leases this member competes for.
	Duties []string
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer takes the metrics (nil: none kept).
	Registerer prometheus.Registerer
}

// Cluster is this collector's membership.
type Cluster struct {
	opts     Options
	instance string
	started  time.Time
	m        metrics

	mu        sync.Mutex
	up        bool
	downSince time.Time
	backAt    time.Time            // when the store last answered again after failing
	held      map[string]time.Time // lease -> until when it is ours
	killed    bool
	log       *cachedLog
}

// New validates o. Nothing is written until Run.
func New(o Options) (*Cluster, error) {
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.Lease < 100*time.Millisecond {
		return nil, fmt.Errorf("cluster: lease %s is shorter than 100ms", o.Lease)
	}
	if o.Member == "" {
		return nil, errors.New("cluster: a member name is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	c := &Cluster{opts: o, instance: o.Member + "-" + strings.ToLower(rand.Text()[:8]), started: o.Now(), up: true,
		held: map[string]time.Time{}}
	c.m = newMetrics(o.Registerer, c)
	if o.Store != nil {
		c.log = &cachedLog{c: c, entries: map[logKey]alerting.LogEntry{}, dirty: map[logKey]bool{}}
	}
	return c, nil
}

// Alone reports whether this collector has no shared state to agree in.
func (c *Cluster) Alone() bool { return c.opts.Store == nil }

// Instance identifies this run of the collector.
func (c *Cluster) Instance() string { return c.instance }

// Lease is the lease length.
func (c *Cluster) Lease() time.Duration { return c.opts.Lease }

// interval is how often the member beats and renews its leases.
func (c *Cluster) interval() time.Duration { return c.opts.Lease / 5 }

// Run beats and renews leases until ctx ends; a graceful end leaves the
// cluster (its leases free at once). A killed collector simply stops
// beating: its leases and claims pass on once they expire.
func (c *Cluster) Run(ctx context.Context) {
	if c.Alone() {
		return
	}
	t := time.NewTicker(c.interval())
	defer t.Stop()
	for {
		if c.isKilled() {
			return
		}
		c.tick(ctx)
		select {
		case <-ctx.Done():
			if !c.isKilled() {
				c.leave()
			}
			return
		case <-t.C:
		}
	}
}

// Kill stops this member at once as a killed process would stop: no more
// beats, renewals or leaving; what it holds passes on when it expires.
// For failover tests.
func (c *Cluster) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killed = true
	clear(c.held)
}

func (c *Cluster) isKilled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

// tick beats once, writes the log back if the store just returned, and
// takes or renews the duties.
func (c *Cluster) tick(ctx context.Context) {
	now := c.opts.Now()
	cctx, cancel := c.callCtx(ctx)
	err := c.opts.Store.Beat(cctx, state.Member{Instance: c.instance, Member: c.opts.Member, Address: c.opts.Address,
		Version: c.opts.Version, Started: c.started, LastSeen: now})
	cancel()
	if !c.result(err) {
		return
	}
	c.log.reconcile(ctx)
	for _, name := range c.opts.Duties {
		cctx, cancel := c.callCtx(ctx)
		ok, err := c.opts.Store.AcquireLease(cctx, name, c.instance, c.opts.Member, now, c.opts.Lease)
		cancel()
		if !c.result(err) {
			return
		}
		c.mu.Lock()
		if ok {
			// Ours a little less than the database says, so two never
			// believe they hold it at once.
			c.held[name] = now.Add(c.opts.Lease - c.interval())
		} else {
			delete(c.held, name)
		}
		c.mu.Unlock()
	}
}

// leave frees this member's leases (a graceful stop).
func (c *Cluster) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), c.interval())
	defer cancel()
	if err := c.opts.Store.Leave(ctx, c.instance, c.opts.Now().Add(-time.Hour)); err != nil {
		c.opts.Logger.Warn("cluster: leave", "err", err)
	}
	c.mu.Lock()
	clear(c.held)
	c.mu.Unlock()
}

// callCtx bounds one call to the store: a database that hangs is treated
// as one that is down.
func (c *Cluster) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), max(c.interval(), time.Second))
}

// result records whether the store answered: an error (other than a
// refused claim) means it is unreachable. It reports err == nil.
func (c *Cluster) result(err error) bool {
	if errors.Is(err, state.ErrClaimed) {
		err = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		if !c.up {
			c.backAt = c.opts.Now()
			c.opts.Logger.Info("cluster: the state database is back", "down_for", c.backAt.Sub(c.downSince).Round(time.Second))
		}
		c.up = true
		return true
	}
	if c.up {
		c.opts.Logger.Error("cluster: the state database is unreachable: paging alone (possible duplicates)", "err", err)
		c.up, c.downSince = false, c.opts.Now()
		clear(c.held)
	}
	return false
}

// Up reports whether this member sees the shared state (always, alone).
func (c *Cluster) Up() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

// settled reports whether this member's view of the shared log can be
// trusted for a claim: the store answers, and has for a lease, long
// enough for every member to have written back what it logged alone.
func (c *Cluster) settled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && (c.backAt.IsZero() || c.opts.Now().Sub(c.backAt) >= c.opts.Lease)
}

// Degraded describes why this member works alone ("" when it does not).
func (c *Cluster) Degraded() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up {
		return ""
	}
	return fmt.Sprintf("the state database is unreachable since %s: notifying alone, possible duplicates", c.downSince.UTC().Format(time.RFC3339))
}

// Leader reports whether this member holds lease name now (alone: always).
func (c *Cluster) Leader(name string) bool {
	if c.Alone() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && c.opts.Now().Before(c.held[name])
}

// Duty reports whether this member does what lease name covers, when a
// second doer is harmless and none is not (the heartbeat): as its leader,
// or when the shared state is unreachable.
func (c *Cluster) Duty(name string) bool { return c.Leader(name) || !c.Up() }
