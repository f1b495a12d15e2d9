package zone

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/attrib"
)

// ReportHandler serves GET /api/v1/reports/dns?origin=gov[&csv=providers|domains|types]:
// the DNS report of the newest import of a zone.
// resolved (may be nil) gives the addresses agents found for unglued name
// servers.
func ReportHandler(st *Store, a *attrib.Attributor, pol *attrib.Policy, types func() map[string]string, resolved func(string) []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.URL.Query().Get("origin")
		if origin == "" {
			origins, err := st.Origins()
			if err != nil || len(origins) != 1 {
				writeErr(w, http.StatusBadRequest, "name the zone with ?origin= (imported: "+joinOr(origins)+")")
				return
			}
			origin = origins[0]
		}
		table := r.URL.Query().Get("csv")
		if table != "" && !slices.Contains(CSVTables(), table) {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("csv=%.40q: want one of %s", table, strings.Join(CSVTables(), ", ")))
			return
		}
		snap, _, err := st.Latest(origin)
		if errors.Is(err, ErrBadOrigin) {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		if err != nil {
			writeErr(w, http.StatusNotFound, err.Error())
			return
		}
		rep := AnalyzeWith(snap, a, pol, types(), resolved).Report(table == "domains")
		if table != "" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="dns-`+table+`.csv"`)
			if err := rep.WriteCSV(w, table); err != nil {
				writeErr(w, http.StatusBadRequest, err.Error())
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": rep})
	})
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": msg})
}

func joinOr(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	out := s[0]
	for _, x := range s[1:] {
		out += ", " + x
	}
	return out
}
