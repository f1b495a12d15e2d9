package zone

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// exportRetryAfter is the Retry-After, in seconds, of a domain table asked
// for while another is being written.
const exportRetryAfter = 30

// ReportHandler serves GET /api/v1/reports/dns?origin=gov[&csv=providers|domains|types]:
// the DNS report of the newest import of a zone, from rs (computed once per
// change). The domain table is written as it is computed, one at a time.
func ReportHandler(rs *Reports) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.URL.Query().Get("origin")
		if origin == "" {
			origins, err := rs.opts.Store.Origins()
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
		e, err := rs.entry(r.Context(), origin)
		switch {
		case errors.Is(err, ErrBadOrigin):
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		case err != nil && r.Context().Err() != nil:
			return // the client is gone
		case err != nil:
			writeErr(w, http.StatusNotFound, err.Error())
			return
		}
		switch table {
		case "":
			w.Header().Set("Content-Type", "application/json")
			w.Write(e.json)
		case "domains":
			rs.serveDomains(w, e)
		default:
			csvHeaders(w, table)
			if err := e.rep.WriteCSV(w, table); err != nil {
				writeErr(w, http.StatusBadRequest, err.Error())
			}
		}
	})
}

func csvHeaders(w http.ResponseWriter, table string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dns-`+table+`.csv"`)
}

// serveDomains writes the domain table as it is computed; one at a time,
// the others are answered 429.
func (rs *Reports) serveDomains(w http.ResponseWriter, e *reportEntry) {
	select {
	case rs.exportSlot <- struct{}{}:
		defer func() { <-rs.exportSlot }()
	default:
		w.Header().Set("Retry-After", strconv.Itoa(exportRetryAfter))
		writeErr(w, http.StatusTooManyRequests, "a domain table is being written: try again later")
		return
	}
	csvHeaders(w, "domains")
	cw := csv.NewWriter(w)
	cw.Write(domainHeader)
	err := rs.writeDomains(e, func(d DomainRow) error {
		cw.Write(d.csv())
		return cw.Error()
	})
	if cw.Flush(); err == nil {
		err = cw.Error()
	}
	if err != nil {
		rs.opts.Logger.Warn("dns report: domain table cut short", "err", err)
		panic(http.ErrAbortHandler) // the client must not take a cut table for whole
	}
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
