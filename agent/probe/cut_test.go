package probe

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/cutset"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// TestProbesUnderCut probes the demo world's services under drill cuts:
// a cut network refuses dials (the CDN's edge, for HTTP, TLS and TCP), a
// cut DNS provider leaves the names it serves unresolvable (for HTTP and
// DNS probes), and services outside the cut answer as before.
func TestProbesUnderCut(t *testing.T) {
	w, err := demo.Start(demo.Options{Dir: t.TempDir(), DriftAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	base := &Env{Resolver: w.DNS.Addr, RootCAs: w.Roots, SourceAddr: demo.HomeSource()}
	now := time.Now()
	mk := func(prefixes []string, names ...string) *Env {
		c := &cutset.Cut{ID: "d1", Starts: now.Add(-time.Minute), Expires: now.Add(time.Hour), Names: names}
		for _, p := range prefixes {
			c.Prefixes = append(c.Prefixes, netip.MustParsePrefix(p))
		}
		return base.WithCut(c.Compile())
	}
	skyline, _ := demo.ProviderByID("skyline")
	cathay, _ := demo.ProviderByID("cathaydns")
	cdn := mk([]string{skyline.Net})
	dnsByAddr := mk([]string{cathay.Net})
	dnsByName := mk([]string{"192.0.2.0/24"}, "ns1.cathaydns.test", "NS2.cathaydns.test.")
	svc := func(id string) *demo.Service {
		for _, s := range w.Services {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no service %s", id)
		return nil
	}
	edge, portal, tax := svc("open-data"), svc("gov-portal"), svc("tax-office") // behind Skyline CDN; all domestic; Cathay DNS
	type tc struct {
		env    *Env
		check  string
		s      *demo.Service
		reason string // "" when it must succeed
		msg    string
	}
	for i, c := range []tc{
		{cdn, "http", edge, "drill_cut", "is cut by drill d1"},
		{cdn, "tls", edge, "drill_cut", "is cut by drill d1"},
		{cdn, "tcp", edge, "drill_cut", "is cut by drill d1"},
		{cdn, "http", portal, "", ""},
		{dnsByAddr, "http", tax, "drill_cut", "every name server of tax-office.arcadia.test is cut by drill d1"},
		{dnsByAddr, "dns", tax, "drill_cut", "every name server of"},
		{dnsByName, "http", tax, "drill_cut", "every name server of"},
		{dnsByName, "http", portal, "", ""},
		{base, "http", edge, "", ""},
		{base, "http", tax, "", ""},
	} {
		tg := &target.Target{ID: c.s.ID, URL: c.s.URL, Timeout: configfile.Duration(3 * time.Second)}
		if c.check == "tcp" || c.check == "tls" {
			tg = &target.Target{ID: c.s.ID, Host: c.s.Host + ":" + strings.TrimPrefix(c.s.Addr.String(), c.s.Addr.Addr().String()+":"), Timeout: configfile.Duration(3 * time.Second)}
		}
		if c.check == "dns" {
			tg = &target.Target{ID: c.s.ID, Host: c.s.Host, Timeout: configfile.Duration(3 * time.Second)}
		}
		res := Run(t.Context(), c.check, tg, c.env)
		switch {
		case c.reason == "" && !res.Success:
			t.Errorf("%d: %s %s failed outside the cut: %v", i, c.check, c.s.ID, res.Err)
		case c.reason != "" && res.Success:
			t.Errorf("%d: %s %s succeeded under the cut", i, c.check, c.s.ID)
		case c.reason != "" && (Reason(res.Err) != c.reason || !strings.Contains(res.Err.Error(), c.msg)):
			t.Errorf("%d: %s %s: reason %q, err %v; want %q, %q", i, c.check, c.s.ID, Reason(res.Err), res.Err, c.reason, c.msg)
		}
	}
}
