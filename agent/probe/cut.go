package probe

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/bulwarkhq/bulwark/internal/cutset"
)

// WithCut returns a copy of env whose probes behave as if the drill's cut
// had happened: dials to cut addresses fail, and a name whose zone's name
// servers are all cut does not resolve. The copy remembers each zone's
// verdict for zoneVerdictTTL, so a failover made during the drill (the
// zone moved to another provider) is seen within that time.
func (env *Env) WithCut(c *cutset.Cut) *Env {
	e := *env
	e.Cut = c
	e.zones = &zoneVerdicts{m: map[string]zoneVerdict{}}
	return &e
}

const zoneVerdictTTL = 10 * time.Second

type zoneVerdict struct {
	zone string // "" when the name's zone is not cut
	at   time.Time
}

// zoneVerdicts caches, per name, whether its name servers are all cut.
type zoneVerdicts struct {
	mu sync.Mutex
	m  map[string]zoneVerdict
}

// errCut is returned by the dialer's control function for a cut address.
type errCut struct{ addr, drill string }

func (e *errCut) Error() string { return e.addr + " is cut by drill " + e.drill }

// control refuses a dial to an address inside the cut.
func (env *Env) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err == nil && env.Cut.Refuses(ap.Addr()) {
		return &Failure{Reason: "drill_cut", Err: &errCut{addr: ap.Addr().String(), drill: env.Cut.ID}}
	}
	return nil
}

// checkZone fails when every name server of host's zone is cut: the
// resolver would find no server to ask. Only under a drill.
func (env *Env) checkZone(ctx context.Context, host string) error {
	if env.Cut == nil || host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	name := strings.ToLower(dns.Fqdn(host))
	if env.zones != nil {
		env.zones.mu.Lock()
		v, ok := env.zones.m[name]
		env.zones.mu.Unlock()
		if ok && time.Since(v.at) < zoneVerdictTTL {
			return zoneErr(v.zone, env.Cut.ID)
		}
	}
	zone, err := env.cutZone(ctx, name)
	if err != nil {
		return nil // cannot tell: the probe's own lookup will say what is wrong
	}
	if env.zones != nil {
		env.zones.mu.Lock()
		if len(env.zones.m) > 4096 {
			clear(env.zones.m)
		}
		env.zones.m[name] = zoneVerdict{zone: zone, at: time.Now()}
		env.zones.mu.Unlock()
	}
	return zoneErr(zone, env.Cut.ID)
}

func zoneErr(zone, id string) error {
	if zone == "" {
		return nil
	}
	return fail("drill_cut", "every name server of %s is cut by drill %s", strings.TrimSuffix(zone, "."), id)
}

// cutZone walks up from name to its zone (the first with NS records) and
// returns the zone when all its name servers are cut, by name or because
// every address they have lies inside the cut; "" otherwise.
func (env *Env) cutZone(ctx context.Context, name string) (string, error) {
	server, err := env.dnsServer()
	if err != nil {
		return "", err
	}
	o := &observer{ctx: ctx, env: env, server: server, r: &Recorder{}}
	zone, nss := o.zoneNS(name)
	if o.err != nil {
		return "", o.err
	}
	if len(nss) == 0 {
		return "", nil
	}
	for _, ns := range nss {
		if env.Cut.RefusesName(ns) {
			continue
		}
		addrs := o.addrs(ns)
		if len(addrs) == 0 {
			return "", nil // an address we cannot see may be outside the cut
		}
		for _, a := range addrs {
			if ip, err := netip.ParseAddr(a); err != nil || !env.Cut.Refuses(ip) {
				return "", nil
			}
		}
	}
	return zone, nil
}

// guardDialer adds the cut's control to d, when env is under a drill.
func (env *Env) guardDialer(d *net.Dialer) *net.Dialer {
	if env.Cut != nil {
		d.ControlContext = env.control
	}
	return d
}
