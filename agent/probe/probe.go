// Package probe holds the probers, one file per kind, behind one small
// contract: a ProbeFn measures a target, records samples and returns nil on
// success or an error that says what failed.
package probe

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwarkhq/bulwark/internal/cutset"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// Env is what the probers share: how to resolve and from where to dial.
type Env struct {
	// Resolver is the "host:port" of the DNS server used for every lookup;
	// empty means the system resolver.
	Resolver string
	// SourceAddr, when valid, is the local address probes dial from.
	SourceAddr netip.Addr
	// RootCAs verify TLS servers; nil means the system roots.
	RootCAs *x509.CertPool
	// MaxBodyBytes bounds what an HTTP probe reads of a body (default 10 MiB).
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Cut, under a drill, is what the probes treat as lost (see WithCut).
	Cut   *cutset.Cut
	zones *zoneVerdicts
}

// Metric is one recorded value with its labels as name/value pairs.
type Metric struct {
	Name   string
	Labels []string
	Value  float64
}

// Recorder collects the metrics of one probe run.
type Recorder struct {
	Metrics []Metric
}

// Set records name=value with labels given as name, value pairs.
func (r *Recorder) Set(name string, v float64, labels ...string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Labels: labels, Value: v})
}

// ProbeFn probes a prepared target, records into r, and returns nil when
// the target is up.
type ProbeFn func(ctx context.Context, p *Prepared, env *Env, r *Recorder) error

// DefaultTimeout applies to targets that set none.
const DefaultTimeout = 10 * time.Second

// Result is the outcome of one probe run.
type Result struct {
	Check    string
	Success  bool
	Err      error
	Duration time.Duration
	Metrics  []Metric
	// Drill is the drill whose cut the run was made under, if any.
	Drill string
}

// Run prepares t and probes it once (see RunPrepared); a job that probes
// again and again prepares once and calls RunPrepared.
func Run(ctx context.Context, check string, t *target.Target, env *Env) Result {
	p, err := mustPrepare(t)
	if err != nil {
		return Result{Check: check, Err: err}
	}
	return RunPrepared(ctx, check, p, env)
}

// RunPrepared probes p with the prober of kind check within the target's
// timeout and adds probe_success and probe_duration_seconds (the whole run).
func RunPrepared(ctx context.Context, check string, p *Prepared, env *Env) Result {
	t := p.Target
	fn, ok := probers[check]
	if !ok {
		return Result{Check: check, Err: fmt.Errorf("unknown check %q", check)}
	}
	timeout := time.Duration(t.Timeout)
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r := Recorder{Metrics: make([]Metric, 0, 24)} // an https probe records 20
	start := time.Now()
	err := fn(ctx, p, env, &r)
	d := time.Since(start)
	success := 0.0
	if err == nil {
		success = 1
	}
	r.Set("probe_success", success)
	r.Set("probe_duration_seconds", d.Seconds()) // unlabelled, as blackbox_exporter's
	if err != nil {
		r.Set("probe_failure_info", 1, "reason", Reason(err))
	}
	return Result{Check: check, Success: err == nil, Err: err, Duration: d, Metrics: r.Metrics}
}

func (env *Env) logger() *slog.Logger {
	if env.Logger != nil {
		return env.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// dnsServer is the DNS server queries go to: the agent's resolver, else
// the first of /etc/resolv.conf.
func (env *Env) dnsServer() (string, error) {
	if env.Resolver != "" {
		return env.Resolver, nil
	}
	conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(conf.Servers) == 0 {
		return "", fail("config", "no resolver: set network.resolver")
	}
	return net.JoinHostPort(conf.Servers[0], conf.Port), nil
}

func (env *Env) maxBody() int64 {
	if env.MaxBodyBytes > 0 {
		return env.MaxBodyBytes
	}
	return 10 << 20
}

// LookupHost resolves host (A and AAAA) through env's resolver, as the
// probes do.
func (env *Env) LookupHost(ctx context.Context, host string) ([]string, error) {
	return env.resolver().LookupHost(ctx, host)
}

func (env *Env) resolver() *net.Resolver {
	if env.Resolver == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, env.Resolver)
	}}
}

// resolve looks host up through env's resolver: addresses of the family
// "ip4" or "ip6" first (default ip4).
func (env *Env) resolve(ctx context.Context, host, family string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if err := env.checkZone(ctx, host); err != nil {
		return nil, err
	}
	addrs, err := env.resolver().LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	want6 := family == "ip6"
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() != want6 {
			out = append(out, a)
		}
	}
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() == want6 {
			out = append(out, a)
		}
	}
	return out, nil
}

// resolveOne returns the first address of the preferred family, or of
// the other when fallback is allowed.
func (env *Env) resolveOne(ctx context.Context, host, family string, fallback bool) (netip.Addr, error) {
	addrs, err := env.resolve(ctx, host, family)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fail("dns", "resolve %s: no addresses", host)
	}
	if !fallback && addrs[0].Is4() == (family == "ip6") {
		return netip.Addr{}, fail("dns", "resolve %s: no %s address", host, family)
	}
	return addrs[0], nil
}

// dialer returns a net.Dialer bound to env's source address, if any.
func (env *Env) dialer() *net.Dialer {
	d := &net.Dialer{KeepAlive: -1} // probes are short: no keep-alive probes, fewer syscalls
	if env.SourceAddr.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: env.SourceAddr.AsSlice()}
	}
	return env.guardDialer(d)
}

// dial resolves host of addr and connects from env's source address.
func (env *Env) dial(ctx context.Context, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fail("config", "address %q: %w", addr, err)
	}
	ip, err := env.resolveOne(ctx, host, "ip4", true)
	if err != nil {
		return nil, err
	}
	return env.dialer().DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
}

func earliestExpiry(certs []*x509.Certificate) time.Time {
	earliest := certs[0].NotAfter
	for _, c := range certs[1:] {
		if c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	return earliest
}
