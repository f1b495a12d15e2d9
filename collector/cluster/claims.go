package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/state"
)

var _ alerting.Claims = (*Cluster)(nil)

// Claim takes a once-only item for this member: granted once across the
// cluster, again to a member taking over a dead claimer's (dup: it may
// have been done), and always when the shared state is unreachable (dup:
// another member may do it too, and for a lease after it returns). Never refused for want of an answer: a
// page missed is worse than a page twice.
func (c *Cluster) Claim(ctx context.Context, item, what string, hold time.Duration) (granted, dup bool) {
	if c.Alone() {
		return true, false
	}
	if c.isKilled() {
		return false, false
	}
	if !c.settled() {
		// Unreachable, or just back: the log this member read may be its
		// own, not the one the others read.
		c.m.claims.WithLabelValues("unreachable").Inc()
		c.m.dups.WithLabelValues("unreachable").Inc()
		return true, true
	}
	now := c.opts.Now()
	cctx, cancel := c.callCtx(ctx)
	from, err := c.opts.Store.Claim(cctx, state.ClaimRequest{Item: item, What: what, Instance: c.instance, Member: c.opts.Member,
		Now: now, Hold: hold, DeadBefore: now.Add(-c.opts.Lease)})
	cancel()
	switch {
	case errors.Is(err, state.ErrClaimed):
		c.result(nil)
		c.m.claims.WithLabelValues("refused").Inc()
		return false, false
	case err != nil:
		c.result(err)
		c.m.claims.WithLabelValues("unreachable").Inc()
		c.m.dups.WithLabelValues("unreachable").Inc()
		c.opts.Logger.Warn("cluster: claimed alone, the state database unreachable", "what", what)
		return true, true
	}
	c.result(nil)
	if from != "" {
		c.m.claims.WithLabelValues("taken_over").Inc()
		c.m.dups.WithLabelValues("takeover").Inc()
		c.opts.Logger.Warn("cluster: took over a claim of a member gone silent", "what", what, "from", from)
		return true, true
	}
	c.m.claims.WithLabelValues("granted").Inc()
	return true, false
}

// Settle ends this member's claim of item: done, or released.
func (c *Cluster) Settle(ctx context.Context, item string, done bool) {
	if c.Alone() || c.isKilled() {
		return
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	c.result(c.opts.Store.Settle(cctx, item, c.instance, done, c.opts.Now()))
}

type metrics struct {
	claims *prometheus.CounterVec
	dups   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, c *Cluster) metrics {
	f := promauto.With(reg)
	m := metrics{
		claims: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "cluster", Name: "claims_total",
			Help: "Claims of once-only items (notifications), by result: granted, refused (another member has it), taken_over (from a member gone silent), unreachable (granted alone)."},
			[]string{"result"}),
		dups: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "cluster", Name: "possible_duplicates_total",
			Help: "Notifications sent that another member may have sent too, by reason: takeover (its claimer went silent), unreachable (the state database was)."},
			[]string{"reason"}),
	}
	for _, r := range []string{"granted", "refused", "taken_over", "unreachable"} {
		m.claims.WithLabelValues(r)
	}
	m.dups.WithLabelValues("takeover")
	m.dups.WithLabelValues("unreachable")
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "cluster", Name: "state_up",
		Help: "1 when this collector reaches the shared state database (always, alone on SQLite), 0 when it pages alone."},
		func() float64 { return b2f(c.Up()) })
	for _, d := range c.opts.Duties {
		f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "cluster", Name: "leader",
			Help: "1 when this collector holds the lease of a duty.", ConstLabels: prometheus.Labels{"lease": d}},
			func() float64 { return b2f(c.Leader(d)) })
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
