package inventory

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// maxImportBytes bounds an uploaded CSV file.
const maxImportBytes = 64 << 20

// ImportHandler serves POST /api/v1/targets/import?preset=NAME&dry_run=true
// with a CSV body. It is served behind the operator role (auth.Guard), which
// names the user recorded as the importer. changed is called after a real import.
func ImportHandler(s *Store, changed func() error) http.Handler {
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
		m, ok := Presets[preset]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "unknown preset " + preset})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxImportBytes+1))
		if err != nil || len(body) > maxImportBytes {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"status": "error", "error": "body unreadable or over 64 MiB"})
			return
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "upload.csv"
		}
		ts, err := ParseCSV(name, body, m)
		if err != nil {
			var ie *Error
			if errors.As(err, &ie) {
				writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": "file refused, nothing imported", "rows": ie.Rows})
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "error": err.Error()})
			return
		}
		dry := strings.EqualFold(r.URL.Query().Get("dry_run"), "true")
		d, err := s.Upsert(ts, dry)
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
