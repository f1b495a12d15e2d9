package cluster

import (
	"context"
	"time"

	"github.com/bulwarkhq/bulwark/collector/state"
)

// Status is the cluster as this member sees it.
type Status struct {
	// Mode is "alone" (SQLite: one collector) or "postgres" (shared).
	Mode     string `json:"mode"`
	Member   string `json:"member"`
	Instance string `json:"instance"`
	// StateUp: this member reaches the shared state database.
	StateUp      bool    `json:"stateUp"`
	Degraded     string  `json:"degraded,omitempty"`
	LeaseSeconds float64 `json:"leaseSeconds"`
	// Members are the instances registered, Alive if seen within a lease.
	Members []MemberStatus `json:"members"`
	Leases  []state.Lease  `json:"leases"`
	// Error says why the members and leases could not be read.
	Error string `json:"error,omitempty"`
}

// MemberStatus is one member and whether it is alive.
type MemberStatus struct {
	state.Member
	Alive bool `json:"alive"`
	Self  bool `json:"self"`
}

// Status reads the members and leases from the shared state.
func (c *Cluster) Status(ctx context.Context) Status {
	now := c.opts.Now()
	s := Status{Mode: "postgres", Member: c.opts.Member, Instance: c.instance, StateUp: c.Up(), Degraded: c.Degraded(),
		LeaseSeconds: c.opts.Lease.Seconds(), Members: []MemberStatus{}, Leases: []state.Lease{}}
	self := MemberStatus{Member: state.Member{Instance: c.instance, Member: c.opts.Member, Address: c.opts.Address,
		Version: c.opts.Version, Started: c.started.UTC(), LastSeen: now.UTC()}, Alive: true, Self: true}
	if c.Alone() {
		s.Mode = "alone"
		s.Members = append(s.Members, self)
		for _, d := range c.opts.Duties {
			s.Leases = append(s.Leases, state.Lease{Name: d, Instance: c.instance, Member: c.opts.Member})
		}
		return s
	}
	cctx, cancel := c.callCtx(ctx)
	defer cancel()
	ms, err := c.opts.Store.Members(cctx)
	var ls []state.Lease
	if err == nil {
		ls, err = c.opts.Store.Leases(cctx)
	}
	if !c.result(err) {
		s.StateUp, s.Degraded, s.Error = false, c.Degraded(), err.Error()
		s.Members = append(s.Members, self)
		return s
	}
	for _, m := range ms {
		s.Members = append(s.Members, MemberStatus{Member: m, Alive: now.Sub(m.LastSeen) < c.opts.Lease, Self: m.Instance == c.instance})
	}
	if ls != nil {
		s.Leases = ls
	}
	return s
}

// Expired reports whether a lease of the status has expired at now.
func Expired(l state.Lease, now time.Time) bool { return !l.Expires.IsZero() && now.After(l.Expires) }
