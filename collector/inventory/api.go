package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Bounds of the import route: an operator's file is input too.
const (
	// maxImportBytes bounds an uploaded CSV file.
	maxImportBytes = 64 << 20
	// MaxConcurrentImports is how many imports (dry runs included) are
	// read at once; more are answered 429 with Retry-After.
	MaxConcurrentImports = 2
	// importRetryAfter is the Retry-After of that answer, in seconds.
	importRetryAfter = 10
)

// ImportHandler serves POST /api/v1/targets/import?preset=NAME&dry_run=true
// with a CSV body. It is served behind the operator role (auth.Guard), which
// names the user recorded as the importer. changed is called after a real import.
// The body is parsed as it arrives; a refused file is answered with its
// first DefaultMaxErrors bad rows and the count of all ("refused").
func ImportHandler(s *Store, changed func() error) http.Handler {
	slots := make(chan struct{}, MaxConcurrentImports)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := auth.UserFrom(r.Context())
		if !ok {
			auth.Deny(w, http.StatusUnauthorized, "the import needs an operator")
			return
		}
		preset := r.URL.Query().Get("preset")
		if preset == "" {
			preset = "bulwark"
		}
		m, ok := Presets()[preset]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "unknown preset " + preset})
			return
		}
		if r.ContentLength > maxImportBytes {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"status": "error", "error": "body over 64 MiB"})
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			w.Header().Set("Retry-After", strconv.Itoa(importRetryAfter))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "error",
				"error": fmt.Sprintf("%d imports are being read: try again later", MaxConcurrentImports)})
			return
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "upload.csv"
		}
		ts, err := ReadCSV(name, http.MaxBytesReader(w, r.Body, maxImportBytes), m, Limits{})
		if err != nil {
			var ie *Error
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &ie):
				writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "file refused, nothing imported",
					"rows": ie.Rows, "refused": max(ie.Total, len(ie.Rows))})
			case errors.As(err, &tooLarge):
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"status": "error", "error": "body over 64 MiB"})
			default:
				writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "body unreadable: " + err.Error()})
			}
			return
		}
		dry := strings.EqualFold(r.URL.Query().Get("dry_run"), "true")
		d, err := s.UpsertContext(r.Context(), ts, dry)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"status": "error", "error": err.Error()})
			return
		}
		if !dry && changed != nil {
			if err := changed(); err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]any{"status": "error", "error": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "dry_run": dry, "by": u.ID, "data": d})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
