package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/bulwarkhq/bulwark/collector/cluster"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/query"
)

// Duties one member of a cluster does at a time (leases).
const (
	leaseHeartbeat = "heartbeat"
	leaseSchedules = "schedules"
)

// newCluster makes this collector's membership: alone on SQLite, a member
// of the collectors sharing the state on PostgreSQL.
func (a *App) newCluster() error {
	c := a.opts.Config
	o := cluster.Options{Member: c.Cluster.Member, Address: c.Cluster.Address, Lease: time.Duration(c.Cluster.Lease),
		Version: query.Version, Duties: []string{leaseHeartbeat, leaseSchedules, cluster.LeaseGC},
		Logger: a.opts.Logger.With("component", "cluster"), Registerer: a.registry}
	if c.State.Driver == collectorconfig.StatePostgres {
		o.Store = a.state
	}
	if o.Member == "" {
		o.Member, _ = os.Hostname()
		if o.Member == "" {
			o.Member = "collector"
		}
	}
	if o.Address == "" {
		o.Address = c.Listen
	}
	var err error
	if a.cluster, err = cluster.New(o); err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	return nil
}

// startCluster beats and renews this member's leases until ctx ends.
func (a *App) startCluster(ctx context.Context) {
	a.clusterDone = make(chan struct{})
	go func() { defer close(a.clusterDone); a.cluster.Run(ctx) }()
}

// stopCluster waits until the member has left (before the state closes).
func (a *App) stopCluster() {
	if a.clusterDone != nil {
		<-a.clusterDone
	}
}

// clusterStatus serves GET /api/v1/status/cluster: the members, the
// leases and whether this member sees the shared state.
func (a *App) clusterStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": a.cluster.Status(r.Context())})
}

// readyText is what /-/ready says of a ready collector.
func (a *App) readyText() string {
	if d := a.cluster.Degraded(); d != "" {
		return "Bulwark is ready, degraded: " + d + "."
	}
	return "Bulwark is ready."
}

// onceAcross claims a once-only item of this collector's own schedule (a
// scheduled playbook run, a scheduled drill) across the cluster: true
// for the one member that does it. A claim possibly done by another (the
// state unreachable, or taken over from a member gone silent) is not
// done: a scheduled run missed is better than an acting step run twice.
// done records that it was.
func (a *App) onceAcross(ctx context.Context, item, what string) (done func(), ok bool) {
	granted, dup := a.cluster.Claim(ctx, item, what, time.Hour)
	if !granted {
		return nil, false
	}
	if dup {
		a.opts.Logger.Warn("scheduled work skipped: another member may have done it (the state database unreachable, or its claimer gone silent)", "what", what)
		return nil, false
	}
	return func() { a.cluster.Settle(context.WithoutCancel(ctx), item, true) }, true
}
