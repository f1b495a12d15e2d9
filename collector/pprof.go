package collector

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// servePprof serves the runtime profiles under /debug/pprof/ (admins only,
// and only with web.enable_pprof).
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	default:
		pprof.Index(w, r)
	}
}
