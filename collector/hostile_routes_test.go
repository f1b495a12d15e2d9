package collector

import (
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// boundedElsewhere names, for the routes whose hostile inputs are of their
// own kind, the test that holds them under their memory bound.
var boundedElsewhere = map[string]string{
	"/api/v1/write":               "TestAgentTokenHostility, ingest.TestConcurrentBodies*",
	"POST /api/v1/targets/import": "TestHostileUploadAndReportRoutes",
	"/debug/pprof/":               "admin only, with web.enable_pprof: no body read",
}

// hostileBodyBytes is what each request of TestEveryBodyRouteBounded
// offers: far past every body bound but the upload's.
const hostileBodyBytes = 256 << 20

// endlessJSON is a JSON document that never ends: a string that goes on
// for n bytes, so a decoder reads until its bound.
type endlessJSON struct{ n, read int }

func (e *endlessJSON) Read(p []byte) (int, error) {
	if e.read >= e.n {
		return 0, io.EOF
	}
	i := 0
	if e.read == 0 {
		i = copy(p, `{"step":"`)
	}
	for ; i < len(p) && e.read+i < e.n; i++ {
		p[i] = 'x'
	}
	e.read += i
	return i, nil
}

// tokenFor is the token of the least role that reaches a route.
func tokenFor(role auth.Role) string {
	switch role {
	case auth.RolePublic:
		return ""
	case auth.RoleAgent:
		return "agent-token"
	}
	return string(role) + "-token"
}

// Issue 19: every route that reads a body, sent the largest body a client
// can offer from 16 connections at once by the role it needs, stays under
// 32 MiB of heap and the collector stays ready: the route's class bounds what is read
// (docs/SECURITY.md, "Memory bounds per route"). Query, upload and report
// routes have hostile inputs of their own kind, in their own tests.
func TestEveryBodyRouteBounded(t *testing.T) {
	app, _ := startRoles(t, "")
	base := "http://" + app.Addr()
	var routes []string
	for pattern, spec := range routeTable {
		method, _, hasMethod := strings.Cut(pattern, " ")
		if hasMethod && method != http.MethodPost && method != http.MethodPut && method != http.MethodDelete {
			continue
		}
		if spec.class == classQuery {
			continue // TestQueryRoutesHostile
		}
		if _, ok := boundedElsewhere[pattern]; ok {
			continue
		}
		routes = append(routes, pattern)
	}
	if len(routes) < 10 {
		t.Fatalf("only %d body routes found: %v", len(routes), routes)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	for _, pattern := range routes {
		t.Run(pattern, func(t *testing.T) {
			method, path := request(pattern)
			if method == http.MethodGet {
				method = http.MethodPost // a route for any method
			}
			path = strings.NewReplacer("{id}", "x", "{name}", "x").Replace(path)
			p := peakHeapOver(func() {
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						req, err := http.NewRequest(method, base+path, &endlessJSON{n: hostileBodyBytes})
						if err != nil {
							t.Error(err)
							return
						}
						req.Header.Set("Content-Type", "application/json")
						if tok := tokenFor(routeTable[pattern].role); tok != "" {
							req.Header.Set("Authorization", "Bearer "+tok)
						}
						resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
						if err != nil {
							return // the server may close a connection whose body it will not read
						}
						// Routes that read no body (reload, buildinfo) may answer 200.
						io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
						resp.Body.Close()
					})
				}
				wg.Wait()
			})
			t.Logf("peak heap %.1f MiB over baseline", float64(p)/(1<<20))
			if p > 32<<20 {
				t.Errorf("peak heap %d MiB over baseline, bound 32 MiB", p>>20)
			}
		})
	}
	resp, err := http.Get(base + "/-/ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("not ready after the hostile bodies: %v", err)
	}
	resp.Body.Close()
}
