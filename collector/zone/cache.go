package zone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// ReportsOptions are what the DNS report is made of.
type ReportsOptions struct {
	Store      *Store
	Attributor *attrib.Attributor
	Policy     *attrib.Policy
	// Types maps a domain to its type (the imported target list); its
	// answer may change only when TypesVersion's does.
	Types        func() map[string]string
	TypesVersion func() uint64
	// Resolved (optional) gives the addresses agents found for unglued name
	// servers; its answers may change only when ResolvedVersion's does.
	Resolved        func(name string) []string
	ResolvedVersion func() uint64
	Registerer      prometheus.Registerer // nil: the metrics are not registered
	Logger          *slog.Logger
}

// Reports serves the DNS report of each zone from memory, computed once per
// change of what it is made of: the newest snapshot file, the catalog in
// use, the target list's types and the agents' resolutions. Concurrent
// requests for a report being computed wait for that one computation, and
// one report is computed at a time.
type Reports struct {
	opts   ReportsOptions
	builds prometheus.Counter
	took   prometheus.Gauge

	buildSlot  chan struct{} // one computation at a time
	exportSlot chan struct{} // one domain table written at a time

	mu      sync.Mutex
	entries map[string]*reportEntry // by origin

	ungluedMu sync.Mutex
	unglued   map[string]ungluedEntry // by origin
	ungluedN  int                     // computations, for tests
}

// reportKey is what a report depends on; a report is reused while its key
// is unchanged.
type reportKey struct {
	file     string
	size     int64
	mod      time.Time
	catalog  *attrib.Catalog
	types    uint64
	resolved uint64
}

// reportEntry is one computed (or being computed) report.
type reportEntry struct {
	key   reportKey
	done  chan struct{} // closed when the fields below are set
	rep   *Report
	json  []byte // the API's answer, encoded once
	canon canonical
	types map[string]string // the domain types it was computed with
	err   error
}

// NewReports validates opts and returns an empty cache.
func NewReports(opts ReportsOptions) (*Reports, error) {
	if opts.Store == nil || opts.Attributor == nil || opts.Policy == nil || opts.Types == nil || opts.TypesVersion == nil {
		return nil, errors.New("zone reports: Store, Attributor, Policy, Types and TypesVersion are required")
	}
	if (opts.Resolved == nil) != (opts.ResolvedVersion == nil) {
		return nil, errors.New("zone reports: Resolved and ResolvedVersion go together")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(opts.Registerer)
	return &Reports{opts: opts, entries: map[string]*reportEntry{}, unglued: map[string]ungluedEntry{},
		buildSlot: make(chan struct{}, 1), exportSlot: make(chan struct{}, 1),
		builds: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Name: "dns_report_builds_total",
			Help: "DNS reports computed (each is then served from memory until a zone import, a target import, a catalog reload or new agent resolutions)."}),
		took: f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Name: "dns_report_build_seconds",
			Help: "How long the last DNS report took to compute."}),
	}, nil
}

func (rs *Reports) key(origin string) (reportKey, error) {
	path, fi, err := rs.opts.Store.latestFile(origin)
	if err != nil {
		return reportKey{}, err
	}
	k := reportKey{file: path, size: fi.Size(), mod: fi.ModTime(), catalog: rs.opts.Attributor.CatalogInUse(),
		types: rs.opts.TypesVersion()}
	if rs.opts.ResolvedVersion != nil {
		k.resolved = rs.opts.ResolvedVersion()
	}
	return k, nil
}

// Get returns the report of origin's newest snapshot, computing it when
// what it is made of changed. A computation outlives the request that
// started it (the next ones wait for it).
func (rs *Reports) Get(ctx context.Context, origin string) (*Report, error) {
	e, err := rs.entry(ctx, origin)
	if err != nil {
		return nil, err
	}
	return e.rep, nil
}

func (rs *Reports) entry(ctx context.Context, origin string) (*reportEntry, error) {
	k, err := rs.key(origin)
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	e := rs.entries[origin]
	if e == nil || e.key != k {
		e = &reportEntry{key: k, done: make(chan struct{})}
		rs.entries[origin] = e
		go rs.build(origin, e)
	}
	rs.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("dns report of %s: %w", origin, ctx.Err())
	}
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

// build computes e; a failed computation is forgotten so the next request
// tries again.
func (rs *Reports) build(origin string, e *reportEntry) {
	defer close(e.done)
	rs.buildSlot <- struct{}{}
	rs.mu.Lock()
	newer := rs.entries[origin]
	rs.mu.Unlock()
	if newer != nil && newer != e {
		// Superseded while waiting its turn: its waiters take the newer
		// report, computed once for all of them.
		<-rs.buildSlot
		<-newer.done
		e.rep, e.json, e.canon, e.types, e.key, e.err = newer.rep, newer.json, newer.canon, newer.types, newer.key, newer.err
		return
	}
	defer func() { <-rs.buildSlot }()
	start := time.Now()
	e.types = rs.opts.Types()
	e.rep, e.canon, e.err = rs.compute(e.key, e.types)
	if e.err == nil {
		var b bytes.Buffer
		e.err = json.NewEncoder(&b).Encode(map[string]any{"status": "success", "data": e.rep})
		e.json = b.Bytes()
	}
	if e.err != nil {
		rs.opts.Logger.Error("dns report", "origin", origin, "err", e.err)
		rs.mu.Lock()
		if rs.entries[origin] == e {
			delete(rs.entries, origin)
		}
		rs.mu.Unlock()
		return
	}
	rs.builds.Inc()
	rs.took.Set(time.Since(start).Seconds())
	rs.opts.Logger.Info("dns report computed", "origin", origin, "domains", e.rep.Domains, "took", time.Since(start))
}

// maxCachedAttributions bounds the attribution cache of one computation:
// it is started afresh after that many name servers (a zone's own name
// servers, with glue, are each seen once).
const maxCachedAttributions = 50_000

// pass reads the snapshot file of k once, handing each delegation's
// service (not grouped) to fn; it returns the snapshot's header and its
// number of delegations.
func (rs *Reports) pass(k reportKey, types map[string]string, fn func(svc *depgraph.Service, d *Delegation)) (*Snapshot, int, error) {
	base := &attrib.Attributor{Catalog: k.catalog, Geo: rs.opts.Attributor.Geo}
	a, seen := base.Cached(), 0
	obs := make([]depgraph.Observation, 0, 8)
	n := 0
	head, err := streamSnapshot(k.file, func(d *Delegation) error {
		if seen += len(d.NS); seen > maxCachedAttributions {
			a, seen = base.Cached(), len(d.NS)
		}
		n++
		fn(serviceOf(d, a, rs.opts.Policy, types, rs.opts.Resolved, obs), d)
		return nil
	})
	return head, n, err
}

// compute makes the report in two passes over the snapshot file: the
// first decides which unknown operators are one (groupUnknown), the second
// counts. Neither keeps the delegations or their services.
func (rs *Reports) compute(k reportKey, types map[string]string) (*Report, canonical, error) {
	g := newGrouping()
	if _, _, err := rs.pass(k, types, func(svc *depgraph.Service, _ *Delegation) { g.add(svc) }); err != nil {
		return nil, canonical{}, err
	}
	canon := g.canon()
	b := newReportBuilder()
	head, n, err := rs.pass(k, types, func(svc *depgraph.Service, d *Delegation) {
		canon.apply(svc)
		b.add(svc, d.DS, types[svc.Target])
	})
	if err != nil {
		return nil, canonical{}, err
	}
	r := b.finish(head, n)
	r.Home = rs.opts.Policy.Home
	return r, canon, nil
}

// writeDomains writes the domain table of origin's report as CSV rows to
// fn, one domain at a time (the table is not kept).
func (rs *Reports) writeDomains(e *reportEntry, fn func(DomainRow) error) error {
	types := e.types
	b := newReportBuilder()
	b.onDomain = fn
	_, _, err := rs.pass(e.key, types, func(svc *depgraph.Service, d *Delegation) {
		e.canon.apply(svc)
		b.add(svc, d.DS, types[svc.Target])
	})
	if err != nil {
		return err
	}
	return b.err
}
