package depgraph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
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
	if r.URL.Query().Get("view") == "graph" {
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": Compact(services)})
		return
	}
	// The summary rides beside the graphs: foreign-only, single-provider and
	// unattributed counts per layer, with the largest unplaced providers.
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": services, "summary": Summarize(services)})
}

// GraphService is a service as a graph draws it (?view=graph): its layers
// and, per layer, the distinct providers, without items, addresses and
// evidence: a tenth of the full answer, for Grafana's node graph.
type GraphService struct {
	Target     string       `json:"target"`
	Sector     string       `json:"sector"`
	Score      float64      `json:"score"`
	WorstState string       `json:"worst_state,omitempty"`
	Layers     []GraphLayer `json:"layers"`
}

// GraphLayer is one layer's state and providers.
type GraphLayer struct {
	Layer     string          `json:"layer"`
	State     string          `json:"state"`
	Providers []GraphProvider `json:"providers"`
}

// GraphProvider is a provider a layer depends on ("name:HOST" when the
// dependency has no provider).
type GraphProvider struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	Foreign      bool   `json:"foreign,omitempty"`
	Unattributed bool   `json:"unattributed,omitempty"`
}

// Compact turns graphs into their graph view.
func Compact(services []*Service) []GraphService {
	out := make([]GraphService, 0, len(services))
	for _, s := range services {
		g := GraphService{Target: s.Target, Sector: s.Sector, Score: s.Score, WorstState: s.WorstState, Layers: make([]GraphLayer, 0, len(s.Layers))}
		for _, l := range s.Layers {
			gl := GraphLayer{Layer: l.Name, State: l.State}
			seen := map[string]bool{}
			for _, it := range l.Items {
				id := it.Attr.Provider
				if id == "" {
					id = "name:" + it.Name
				}
				if seen[id] {
					continue
				}
				seen[id] = true
				gl.Providers = append(gl.Providers, GraphProvider{ID: id, Name: it.Attr.ProviderName, Jurisdiction: it.Attr.Jurisdiction,
					Foreign: it.Foreign, Unattributed: it.Unattributed})
			}
			g.Layers = append(g.Layers, gl)
		}
		out = append(out, g)
	}
	return out
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
	wi, err := e.WhatIf(r.URL.Query())
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": wi})
}

// WhatIf answers the cut q names (the API's query parameters) over the
// current graphs, with how many of the known services they cover.
func (e *Evaluator) WhatIf(q url.Values) (*WhatIf, error) {
	cut, err := ParseCut(q)
	if err != nil {
		return nil, err
	}
	services := e.tracker.Services()
	cut = cut.Resolve(e.opts.Attributor.CatalogInUse())
	if err := cut.Check(services, e.opts.Attributor.CatalogInUse()); err != nil {
		return nil, err
	}
	wi := Evaluate(services, cut, e.opts.Criticality)
	if e.opts.Targets != nil {
		wi.SetCompleteness(services, e.opts.Targets())
	}
	return wi, nil
}
