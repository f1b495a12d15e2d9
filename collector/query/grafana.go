package query

import (
	"net/http"
	"slices"
	"strconv"
)

// The endpoints Grafana's Prometheus data source calls besides queries,
// series and labels (its editor's metric browser, exemplars toggle and
// "format query" button), answered in Prometheus's shapes.

// metricMeta is what /api/v1/metadata knows: Bulwark's own families (the
// store keeps no metadata of pushed series).
var metricMeta = map[string][3]string{ // name: type, help, unit
	"probe_success":                            {"gauge", "1 when the check succeeded from this vantage point, else 0.", ""},
	"probe_duration_seconds":                   {"gauge", "How long the whole check took.", "seconds"},
	"probe_http_duration_seconds":              {"gauge", "How long each phase of an HTTP check took, summed over redirects.", "seconds"},
	"probe_http_status_code":                   {"gauge", "The HTTP status code of the final answer.", ""},
	"probe_ssl_earliest_cert_expiry":           {"gauge", "When the first of the certificates the server sent expires, in Unix seconds.", ""},
	"probe_tls_cert_expiry_timestamp_seconds":  {"gauge", "When the served (leaf) certificate expires (tls check).", "seconds"},
	"probe_dns_rrsig_expiry_timestamp_seconds": {"gauge", "When the earliest DNSSEC signature of the answer expires.", "seconds"},
	"probe_dependency_info":                    {"info", "A dependency the agent observed: layer, kind, name, address.", ""},
	"probe_failure_info":                       {"info", "Why the check failed.", ""},
	"bulwark_target_availability":              {"gauge", "The vantage quorum's classification of a target, valued with the agents behind it.", ""},
	"bulwark_layer_state":                      {"gauge", "The state of a layer of a service's dependencies.", ""},
	"bulwark_foreign_dependency_score":         {"gauge", "A service's foreign dependency score, 0 (domestic) to 1.", ""},
	"bulwark_dependency_info":                  {"info", "A dependency attributed to a provider and jurisdiction.", ""},
	"ALERTS":                                   {"gauge", "Active alerts, pending and firing.", ""},
}

func (a *API) metadata(r *http.Request) (response, error) {
	limit := -1
	if v := r.FormValue("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return response{}, badData("limit %q is not an integer", v)
		}
		limit = n
	}
	metric := r.FormValue("metric")
	var names []string
	for name := range metricMeta {
		if metric == "" || metric == name {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if limit >= 0 && len(names) > limit {
		names = names[:limit]
	}
	return response{data: func(jw *jsonWriter) {
		jw.raw("{")
		for i, name := range names {
			if i > 0 {
				jw.raw(",")
			}
			m := metricMeta[name]
			jw.str(name)
			jw.raw(`:[{"type":`)
			jw.str(m[0])
			jw.raw(`,"help":`)
			jw.str(m[1])
			jw.raw(`,"unit":`)
			jw.str(m[2])
			jw.raw("}]")
		}
		jw.raw("}")
	}}, nil
}

// queryExemplars: Bulwark keeps no exemplars; a valid query answers an
// empty list, a bad one Prometheus's bad_data.
func (a *API) queryExemplars(r *http.Request) (response, error) {
	if _, err := a.parse(r.FormValue("query")); err != nil {
		return response{}, err
	}
	if _, _, err := a.timeRange(r); err != nil {
		return response{}, err
	}
	return response{data: func(jw *jsonWriter) { jw.raw("[]") }}, nil
}

// formatQuery answers the query pretty-printed, as Prometheus does.
func (a *API) formatQuery(r *http.Request) (response, error) {
	expr, err := a.parse(r.FormValue("query"))
	if err != nil {
		return response{}, err
	}
	pretty := expr.Pretty(0)
	return response{data: func(jw *jsonWriter) { jw.str(pretty) }}, nil
}
