// Package inventory is the collector's list of targets beyond its
// configuration file: bulk imports from CSV files that ministries and
// regulators send, applied all-or-nothing with a diff, kept on disk.
package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Fields a column can fill.
var Fields = []string{"id", "name", "url", "host", "domain", "sector", "operator", "type", "contact", "criticality"}

// Mapping says which column fills which field, and constant values.
type Mapping struct {
	Columns map[string]string // field -> column header
	Set     map[string]string // field -> constant
	// Optional columns may be absent from the file; all others are required.
	Optional []string
}

// Presets are mappings for common layouts.
var Presets = map[string]Mapping{
	// bulwark: the columns are named after the fields.
	"bulwark": {Columns: map[string]string{"id": "id", "name": "name", "url": "url", "host": "host", "sector": "sector",
		"operator": "operator", "type": "type", "contact": "contact", "criticality": "criticality"},
		Optional: []string{"name", "url", "host", "operator", "type", "contact", "criticality"}},
	// dotgov: the US .gov domain list (current-full.csv of cisagov/dotgov-data).
	"dotgov": {Columns: map[string]string{"domain": "Domain name", "name": "Organization name", "operator": "Organization name",
		"type": "Domain type", "contact": "Security contact email"}, Set: map[string]string{"sector": "government"}},
}

// RowError is one refused row.
type RowError struct {
	Line int
	Msg  string
}

// Error lists every refused row of a file; nothing of it was applied.
type Error struct {
	File string
	Rows []RowError
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, r := range e.Rows {
		if i == 50 {
			fmt.Fprintf(&b, "... and %d more refused rows", len(e.Rows)-50)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d: %s", e.File, r.Line, r.Msg)
	}
	return b.String()
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// SlugFromDomain makes a target id from a domain: example.gov -> example-gov.
func SlugFromDomain(d string) string {
	s := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(d), "-"), "-")
	if len(s) > 64 {
		s = strings.Trim(s[:64], "-")
	}
	return s
}

// ParseCSV reads a CSV file of targets with mapping m. Every row is
// checked; if any is bad the whole file is refused with each bad row's
// line and reason.
func ParseCSV(name string, data []byte, m Mapping) ([]target.Target, error) {
	if !utf8.Valid(data) {
		line := bytes.Count(data[:firstInvalid(data)], []byte("\n")) + 1
		return nil, &Error{File: name, Rows: []RowError{{line, "the file is not UTF-8: convert it (iconv -f LATIN1 -t UTF-8) and import again"}}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, &Error{File: name, Rows: []RowError{{1, "no header row: " + err.Error()}}}
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	col := map[string]int{}
	var missing []string
	for _, field := range Fields {
		c, mapped := m.Columns[field]
		if !mapped {
			continue
		}
		i, ok := idx[c]
		if !ok {
			if !slices.Contains(m.Optional, field) {
				missing = append(missing, fmt.Sprintf("%q (for %s)", c, field))
			}
			continue
		}
		col[field] = i
	}
	if len(missing) > 0 {
		return nil, &Error{File: name, Rows: []RowError{{1, "missing column " + strings.Join(missing, ", ")}}}
	}
	var out []target.Target
	var rows []RowError
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line := 0
		if err != nil {
			// FieldPos is valid only after a successful Read.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			rows = append(rows, RowError{line, "not a CSV row: " + err.Error()})
			if pe == nil {
				break
			}
			continue
		}
		line, _ = r.FieldPos(0)
		get := func(f string) string {
			if i, ok := col[f]; ok && i < len(rec) {
				v := strings.TrimSpace(rec[i])
				if v == "(blank)" {
					return ""
				}
				return v
			}
			return m.Set[f]
		}
		t := target.Target{ID: get("id"), Name: get("name"), URL: get("url"), Host: get("host"), Sector: get("sector"),
			Operator: get("operator"), Type: get("type"), Contact: get("contact")}
		if d := get("domain"); d != "" {
			if t.URL == "" && t.Host == "" {
				t.URL = "https://" + strings.ToLower(d) + "/"
			}
			if t.ID == "" {
				t.ID = SlugFromDomain(d)
			}
		}
		if c := get("criticality"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil {
				rows = append(rows, RowError{line, fmt.Sprintf("criticality %q is not a number", c)})
				continue
			}
			t.Criticality = n
		}
		var msgs []string
		for _, p := range t.Validate() {
			msgs = append(msgs, p.Field+": "+p.Msg)
		}
		if len(msgs) > 0 {
			rows = append(rows, RowError{line, strings.Join(msgs, "; ")})
			continue
		}
		if first, dup := seen[t.ID]; dup {
			rows = append(rows, RowError{line, fmt.Sprintf("duplicate target %q (first on line %d)", t.ID, first)})
			continue
		}
		seen[t.ID] = line
		out = append(out, t)
	}
	if len(rows) > 0 {
		return nil, &Error{File: name, Rows: rows}
	}
	return out, nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}
