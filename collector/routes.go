package collector

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// routeClass sets how long a route may take to read its request and write
// its answer: a slow client is cut off after that, authenticated or not.
type routeClass int

const (
	classFast   routeClass = iota // health, small JSON answers, pages: 30s
	classWrite                    // remote-write: 1m
	classQuery                    // PromQL: the query timeout plus 30s to write
	classUpload                   // CSV imports of a nation's inventory: 5m
)

type routeSpec struct {
	role  auth.Role
	class routeClass
}

// routeTable is the one table of every route the collector serves and the
// role it needs. Registering a route not listed here is an error, and the
// route-by-role test reads this table.
var routeTable = map[string]routeSpec{
	"GET /-/healthy": {auth.RolePublic, classFast},
	"GET /-/ready":   {auth.RolePublic, classFast},
	// Unknown API paths answer a JSON 404 to anyone: it tells nothing.
	"/api/": {auth.RolePublic, classFast},
	// Slack's button clicks carry no token: each is verified with the app's
	// signing secret, and the clicking Slack user must map to an operator.
	"POST /api/v1/slack/interactions": {auth.RolePublic, classFast},

	"/api/v1/write":                   {auth.RoleAgent, classWrite},
	"GET /api/v1/agents/{id}/targets": {auth.RoleAgent, classFast},
	"GET /api/v1/agents/{id}/names":   {auth.RoleAgent, classFast},
	"POST /api/v1/agents/{id}/names":  {auth.RoleAgent, classWrite},
	"GET /api/v1/agents/{id}/drill":   {auth.RoleAgent, classFast},

	"/api/v1/query":                    {auth.RoleViewer, classQuery},
	"/api/v1/query_range":              {auth.RoleViewer, classQuery},
	"/api/v1/series":                   {auth.RoleViewer, classQuery},
	"/api/v1/labels":                   {auth.RoleViewer, classQuery},
	"/api/v1/label/{name}/values":      {auth.RoleViewer, classQuery},
	"/api/v1/status/buildinfo":         {auth.RoleViewer, classFast},
	"/api/v1/metadata":                 {auth.RoleViewer, classFast},
	"/api/v1/query_exemplars":          {auth.RoleViewer, classQuery},
	"/api/v1/format_query":             {auth.RoleViewer, classFast},
	"GET /api/v1/dependencies":         {auth.RoleViewer, classFast},
	"GET /api/v1/dependencies/history": {auth.RoleViewer, classFast},
	"GET /api/v1/drift":                {auth.RoleViewer, classFast},
	"GET /api/v1/whatif":               {auth.RoleViewer, classFast},
	"GET /api/v1/reports/dns":          {auth.RoleViewer, classQuery},
	"GET /api/v1/rules":                {auth.RoleViewer, classFast},
	"GET /api/v1/alerts":               {auth.RoleViewer, classFast},
	"GET /{$}":                         {auth.RoleViewer, classQuery},
	"GET /alerts":                      {auth.RoleViewer, classFast},
	"GET /services":                    {auth.RoleViewer, classQuery},
	"GET /dependencies":                {auth.RoleViewer, classFast},
	"GET /reports/dns":                 {auth.RoleViewer, classQuery},
	"GET /metrics":                     {auth.RoleViewer, classFast}, // public with auth.public_metrics
	// Console logins and the alerts page's forms (collector/console/login.go).
	"GET /login":                        {auth.RolePublic, classFast},
	"POST /login":                       {auth.RolePublic, classFast},
	"POST /logout":                      {auth.RoleViewer, classFast},
	"POST /alerts/ack":                  {auth.RoleOperator, classFast},
	"POST /alerts/silence":              {auth.RoleOperator, classFast},
	"POST /alerts/silences/{id}/expire": {auth.RoleOperator, classFast},

	"GET /api/v1/incidents":                  {auth.RoleViewer, classFast},
	"GET /api/v1/silences":                   {auth.RoleViewer, classFast},
	"POST /api/v1/targets/import":            {auth.RoleOperator, classUpload},
	"POST /api/v1/incidents/ack":             {auth.RoleOperator, classFast},
	"POST /api/v1/silences":                  {auth.RoleOperator, classFast},
	"DELETE /api/v1/silences/{id}":           {auth.RoleOperator, classFast},
	"GET /api/v1/audit":                      {auth.RoleAdmin, classFast},
	"GET /api/v1/playbooks":                  {auth.RoleViewer, classFast},
	"GET /api/v1/playbooks/runs":             {auth.RoleViewer, classFast},
	"GET /api/v1/playbooks/runs/{id}":        {auth.RoleViewer, classFast},
	"GET /api/v1/playbooks/runs/{id}/export": {auth.RoleViewer, classFast},
	"POST /api/v1/playbooks/{name}/run":      {auth.RoleOperator, classFast},
	// Approvals: the runner checks the role the step names (operator by default).
	"POST /api/v1/playbooks/runs/{id}/approve": {auth.RoleViewer, classFast},
	"POST /api/v1/playbooks/runs/{id}/tick":    {auth.RoleOperator, classFast},
	"POST /api/v1/playbooks/kill":              {auth.RoleAdmin, classFast},
	"GET /api/v1/audit/export":                 {auth.RoleAdmin, classQuery},
	"GET /api/v1/drills":                       {auth.RoleViewer, classFast},
	"GET /api/v1/drills/{id}":                  {auth.RoleViewer, classFast},
	"GET /api/v1/drills/{id}/report":           {auth.RoleViewer, classQuery},
	"POST /api/v1/drills":                      {auth.RoleOperator, classFast},
	"POST /api/v1/drills/{id}/stop":            {auth.RoleOperator, classFast},

	"POST /-/reload":           {auth.RoleAdmin, classFast},
	"GET /api/v1/admin/backup": {auth.RoleAdmin, classUpload},
	"/debug/pprof/":            {auth.RoleAdmin, classUpload}, // only with web.enable_pprof
}

// router registers routes behind the roles of routeTable and the deadlines
// of their class. It satisfies the small Mux interfaces of the parts.
type router struct {
	mux          *http.ServeMux
	guard        *auth.Guard
	publicMetric bool
	queryTimeout time.Duration
	registered   []string
	errs         []error
}

func (rt *router) Handle(pattern string, h http.Handler) {
	spec, ok := routeTable[pattern]
	if !ok {
		rt.errs = append(rt.errs, fmt.Errorf("route %q has no entry in the role table", pattern))
		return
	}
	if pattern == "GET /metrics" && rt.publicMetric {
		spec.role = auth.RolePublic
	}
	rt.registered = append(rt.registered, pattern)
	rt.mux.Handle(pattern, rt.deadlines(spec.class, rt.guard.Wrap(spec.role, h)))
}

func (rt *router) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	rt.Handle(pattern, http.HandlerFunc(f))
}

// err reports the routes registered without a table entry.
func (rt *router) err() error {
	if len(rt.errs) > 0 {
		return fmt.Errorf("collector: %v", rt.errs)
	}
	return nil
}

// Routes lists the patterns the collector serves, sorted.
func (a *App) Routes() []string { return slices.Sorted(slices.Values(a.router.registered)) }

// deadlines sets the connection's read and write deadlines for one request
// of class c; the server's own timeouts cover headers and idle keep-alives.
func (rt *router) deadlines(c routeClass, h http.Handler) http.Handler {
	d := 30 * time.Second
	switch c {
	case classWrite:
		d = time.Minute
	case classQuery:
		d = rt.queryTimeout + 30*time.Second
	case classUpload:
		d = 5 * time.Minute
	}
	limit := c.maxBody()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limit > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(d)
		// Errors only mean the connection cannot take deadlines (HTTP/2 in tests).
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
		h.ServeHTTP(w, r)
	})
}

// maxBody is the most a route of class c may read of a request body, a
// bound under whatever its handler reads (0: the handler bounds it while
// decoding, as remote-write does with limits.max_body_bytes). docs/SECURITY.md
// lists the bound of every route.
func (c routeClass) maxBody() int64 {
	switch c {
	case classWrite:
		return 0
	case classUpload:
		return 64 << 20
	}
	return 1 << 20
}

// notFound answers unknown API paths in the Prometheus error shape.
func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "not_found", "error": "no such endpoint: " + r.URL.Path})
}
