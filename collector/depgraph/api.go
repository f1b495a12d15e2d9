package depgraph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Register adds the dependency API to mux:
//
//	GET /api/v1/dependencies[?target=ID]   graphs, states, scores, evidence
//	GET /api/v1/drift[?target=ID]          drift events, newest first
//	GET /api/v1/whatif?country=XC&provider=ID&asn=N&cidr=P (each repeatable)
func (e *Evaluator) Register(mux interface {
	HandleFunc(string, func(http.ResponseWriter, *http.Request))
}) {
	mux.HandleFunc("GET /api/v1/dependencies", e.dependencies)
	mux.HandleFunc("GET /api/v1/drift", e.drift)
	mux.HandleFunc("GET /api/v1/whatif", e.whatif)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, format string, a ...any) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "errorType": "bad_data", "error": fmt.Sprintf(format, a...)})
}

func (e *Evaluator) dependencies(w http.ResponseWriter, r *http.Request) {
	services := e.tracker.Services()
	if t := r.URL.Query().Get("target"); t != "" {
		var one []*Service
		for _, s := range services {
			if s.Target == t {
				one = append(one, s)
			}
		}
		services = one
	}
	// The summary rides beside the graphs: foreign-only, single-provider and
	// unattributed counts per layer, with the largest unplaced providers.
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": services, "summary": Summarize(services)})
}

func (e *Evaluator) drift(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": e.tracker.Events(r.URL.Query().Get("target"))})
}

// ParseCut reads a cut from query parameters.
func ParseCut(q map[string][]string) (Cut, error) {
	var c Cut
	for _, v := range q["country"] {
		v = strings.ToUpper(strings.TrimSpace(v))
		if len(v) != 2 {
			return c, fmt.Errorf("country %q is not a two-letter code", v)
		}
		c.Countries = append(c.Countries, v)
	}
	c.Providers = append(c.Providers, q["provider"]...)
	for _, v := range q["asn"] {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 32)
		if err != nil {
			return c, fmt.Errorf("asn %q is not an AS number", v)
		}
		c.ASNs = append(c.ASNs, uint32(n))
	}
	for _, v := range q["cidr"] {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return c, fmt.Errorf("cidr %q: %v", v, err)
		}
		c.CIDRs = append(c.CIDRs, p.Masked())
	}
	if c.Empty() {
		return c, fmt.Errorf("name what is cut: country, provider, asn or cidr")
	}
	return c, nil
}

func (e *Evaluator) whatif(w http.ResponseWriter, r *http.Request) {
	cut, err := ParseCut(r.URL.Query())
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	services := e.tracker.Services()
	cut = cut.Resolve(e.opts.Attributor.CatalogInUse())
	if err := cut.Check(services, e.opts.Attributor.CatalogInUse()); err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": Evaluate(services, cut, e.opts.Criticality)})
}
