package collector

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// roleConfig is a collector configuration with an agent and a user of each role.
const roleConfig = `
agents:
  - {id: home-1, vantage: home, token_sha256: %s}
users:
  - {id: vera, role: viewer, token_sha256: %s}
  - {id: otto, role: operator, token_sha256: %s}
  - {id: ada, role: admin, token_sha256: %s}
`

func startRoles(t *testing.T, extra string) (*App, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "bulwark.yml")
	if !strings.Contains(extra, "web:") {
		extra += "web: {enable_pprof: true}\n"
	}
	y := "data_dir: " + filepath.Join(dir, "data") + "\n" +
		replaceAll(roleConfig, auth.Hash("agent-token"), auth.Hash("viewer-token"), auth.Hash("operator-token"), auth.Hash("admin-token")) + extra
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := collectorconfig.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(Options{Config: cfg, ConfigFile: file})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop(context.Background()) })
	return app, file
}

func replaceAll(s string, vals ...string) string {
	for _, v := range vals {
		s = strings.Replace(s, "%s", v, 1)
	}
	return s
}

// request is a concrete request for a route pattern.
func request(pattern string) (method, path string) {
	method, path = http.MethodGet, pattern
	if m, p, ok := strings.Cut(pattern, " "); ok {
		method, path = m, p
	}
	if path == "/api/v1/write" {
		method = http.MethodPost
	}
	if path == "/api/" {
		path = "/api/v1/no-such-thing"
	}
	path = strings.NewReplacer("{id}", "home-1", "{name}", "job", "{$}", "").Replace(path)
	if strings.HasPrefix(path, "/api/v1/query") {
		path += "?query=1&start=0&end=1&step=1"
	}
	return method, path
}

var callers = []struct{ name, token string }{
	{"none", ""}, {"wrong", "wrong-token"}, {"agent", "agent-token"},
	{"viewer", "viewer-token"}, {"operator", "operator-token"}, {"admin", "admin-token"},
}

// want is the status class a caller gets from a route needing role:
// 401, 403, or "served" (anything else).
func want(role auth.Role, caller string, anonymous auth.Role) int {
	switch {
	case role == auth.RolePublic:
		return 0
	case caller == "wrong":
		return 401
	case role == auth.RoleAgent:
		switch caller {
		case "agent":
			return 0
		case "none":
			return 401
		}
		return 403
	case caller == "agent":
		return 403
	case caller == "none":
		if anonymous == "" {
			return 401
		}
		if anonymous.Includes(role) {
			return 0
		}
		return 403
	}
	if auth.Role(caller).Includes(role) {
		return 0
	}
	return 403
}

func statusClass(code int) int {
	if code == 401 || code == 403 {
		return code
	}
	return 0
}

// Every route of the table is served, behind its role, for every kind of caller.
func TestRouteRoleMatrix(t *testing.T) {
	for _, anon := range []auth.Role{"", auth.RoleViewer} {
		extra := ""
		if anon != "" {
			extra = "auth: {anonymous_role: " + string(anon) + "}\n"
		}
		app, _ := startRoles(t, extra)
		registered := map[string]bool{}
		for _, p := range app.Routes() {
			registered[p] = true
		}
		for pattern, spec := range routeTable {
			if !registered[pattern] {
				t.Errorf("route %q is in the table but not served", pattern)
				continue
			}
			method, path := request(pattern)
			for _, c := range callers {
				req, _ := http.NewRequest(method, "http://"+app.Addr()+path, nil)
				if c.token != "" {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got, w := statusClass(resp.StatusCode), want(spec.role, c.name, anon); got != w {
					t.Errorf("anonymous=%q %s %s as %s: HTTP %d, want class %d", anon, method, path, c.name, resp.StatusCode, w)
				}
			}
		}
	}
}

// A route registered without an entry in the table is an error.
func TestRouteWithoutRole(t *testing.T) {
	g, _ := auth.NewGuard(auth.NewAgents(), auth.NewUsers(), "")
	rt := &router{mux: http.NewServeMux(), guard: g}
	rt.HandleFunc("GET /api/v1/secrets", func(http.ResponseWriter, *http.Request) {})
	if err := rt.err(); err == nil || !strings.Contains(err.Error(), `"GET /api/v1/secrets" has no entry in the role table`) {
		t.Fatalf("err = %v", err)
	}
}

// /metrics is public only when configured so.
func TestPublicMetrics(t *testing.T) {
	app, _ := startRoles(t, "auth: {public_metrics: true}\n")
	resp, err := http.Get("http://" + app.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics with public_metrics: %d", resp.StatusCode)
	}
}

// POST /-/reload (admin) applies a changed file; a bad file keeps the old
// configuration, says why, and shows in bulwark_config_last_reload_successful.
func TestReload(t *testing.T) {
	app, file := startRoles(t, "")
	base := "http://" + app.Addr()
	do := func(method, path, token string) (int, string) {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, _ := do("GET", "/api/v1/labels", "new-token"); code != 401 {
		t.Fatalf("unknown token before reload: %d", code)
	}
	orig, _ := os.ReadFile(file)
	y := strings.Replace(string(orig), "users:\n", "users:\n  - {id: nora, role: viewer, token_sha256: "+auth.Hash("new-token")+"}\n", 1)
	os.WriteFile(file, []byte(y), 0o600)
	if code, body := do("POST", "/-/reload", "operator-token"); code != 403 {
		t.Fatalf("reload by an operator: %d %s", code, body)
	}
	if code, body := do("POST", "/-/reload", "admin-token"); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if code, _ := do("GET", "/api/v1/labels", "new-token"); code != 200 {
		t.Fatalf("new user after reload: %d", code)
	}
	os.WriteFile(file, []byte(y+"users: [oops\n"), 0o600)
	if code, body := do("POST", "/-/reload", "admin-token"); code != 500 || !strings.Contains(body, "bulwark.yml:") {
		t.Fatalf("bad file: %d %s", code, body)
	}
	if code, _ := do("GET", "/api/v1/labels", "new-token"); code != 200 {
		t.Fatalf("the old configuration was not kept: %d", code)
	}
	// The provider catalog is reloaded too: a provider added to an
	// operator's catalog file becomes known to what-if.
	if code, _ := do("GET", "/api/v1/whatif?provider=zz-dns", "viewer-token"); code != 400 {
		t.Fatalf("unknown provider before reload: %d", code)
	}
	catalog := filepath.Join(filepath.Dir(file), "local.yaml")
	os.WriteFile(catalog, []byte("providers:\n  - {id: zz-dns, name: ZZ DNS, parent: ZZ Holding, country: DE, kinds: [dns], ns_suffixes: [zz-dns.example]}\n"), 0o600)
	os.WriteFile(file, []byte(y+"attribution: {catalog_files: ["+catalog+"]}\n"), 0o600)
	if code, body := do("POST", "/-/reload", "admin-token"); code != 200 {
		t.Fatalf("reload with a catalog: %d %s", code, body)
	}
	if code, body := do("GET", "/api/v1/whatif?provider=zz-dns", "viewer-token"); code != 200 {
		t.Fatalf("provider of the reloaded catalog: %d %s", code, body)
	}
	os.WriteFile(file, []byte(y+"users: [oops\n"), 0o600)
	do("POST", "/-/reload", "admin-token")
	_, metrics := do("GET", "/metrics", "viewer-token")
	if !strings.Contains(metrics, "prometheus_rule_evaluation_duration_seconds") || !strings.Contains(metrics, "prometheus_rule_evaluation_failures_total") {
		t.Errorf("rule evaluation metrics missing")
	}
	if !strings.Contains(metrics, "bulwark_config_last_reload_successful 0") ||
		!strings.Contains(metrics, "bulwark_config_last_reload_success_timestamp_seconds") {
		t.Fatalf("reload metrics missing:\n%s", metrics)
	}
}
