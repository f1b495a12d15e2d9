// Package inventory is the collector's list of targets beyond its
// configuration file: bulk imports from CSV files that ministries and
// regulators send, applied all-or-nothing with a diff, kept on disk.
package inventory

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Fields returns the fields a column can fill, in the order they are read.
func Fields() []string {
	return []string{"id", "name", "url", "host", "domain", "sector", "operator", "type", "contact", "criticality"}
}

// Mapping says which column fills which field, and constant values.
type Mapping struct {
	Columns map[string]string // field -> column header
	Set     map[string]string // field -> constant
	// Optional columns may be absent from the file; all others are required.
	Optional []string
}

// Presets returns the mappings for common layouts, fresh on every call.
func Presets() map[string]Mapping {
	return map[string]Mapping{
		// bulwark: the columns are named after the fields.
		"bulwark": {Columns: map[string]string{"id": "id", "name": "name", "url": "url", "host": "host", "sector": "sector",
			"operator": "operator", "type": "type", "contact": "contact", "criticality": "criticality"},
			Optional: []string{"name", "url", "host", "operator", "type", "contact", "criticality"}},
		// dotgov: the US .gov domain list (current-full.csv of cisagov/dotgov-data).
		"dotgov": {Columns: map[string]string{"domain": "Domain name", "name": "Organization name", "operator": "Organization name",
			"type": "Domain type", "contact": "Security contact email"}, Set: map[string]string{"sector": "government"}},
	}
}

// RowError is one refused row.
type RowError struct {
	Line int
	Msg  string
}

// Error lists the refused rows of a file; nothing of it was applied. Rows
// holds the first of them (Limits.MaxErrors), Total counts them all.
type Error struct {
	File  string
	Rows  []RowError
	Total int
}

func (e *Error) Error() string {
	var b strings.Builder
	total := max(e.Total, len(e.Rows))
	for i, r := range e.Rows {
		if i == 50 {
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d: %s", e.File, r.Line, r.Msg)
	}
	if shown := min(len(e.Rows), 50); total > shown {
		fmt.Fprintf(&b, "... and %d more refused rows", total-shown)
	}
	return b.String()
}

// Limits bound what reading one file may cost.
type Limits struct {
	// MaxErrors is how many refused rows are listed (all are counted).
	MaxErrors int
	// MaxTargets is how many targets one file may hold: a larger file is
	// refused at the first row past it (split it).
	MaxTargets int
}

// Default limits.
const (
	DefaultMaxErrors  = 100
	DefaultMaxTargets = 200_000
	// maxMsgBytes cuts a row's message: it may quote a cell of any size.
	maxMsgBytes = 300
)

func (l Limits) withDefaults() Limits {
	if l.MaxErrors <= 0 {
		l.MaxErrors = DefaultMaxErrors
	}
	if l.MaxTargets <= 0 {
		l.MaxTargets = DefaultMaxTargets
	}
	return l
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

// ParseCSV reads a CSV file of targets with mapping m under the default
// limits (see ReadCSV).
func ParseCSV(name string, data []byte, m Mapping) ([]target.Target, error) {
	return ReadCSV(name, bytes.NewReader(data), m, Limits{})
}

// ReadCSV reads a CSV file of targets with mapping m as it arrives: every
// row is checked; if any is bad the whole file is refused with the first
// bad rows' lines and reasons and the count of all (*Error). A file that is
// not UTF-8 is refused with the line of its first invalid byte. An error
// reading r is returned as it is (not an *Error).
func ReadCSV(name string, r io.Reader, m Mapping, lim Limits) ([]target.Target, error) {
	lim = lim.withDefaults()
	u := newUTF8Reader(r)
	br := bufio.NewReaderSize(u, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	p := &parser{name: name, lim: lim, seen: map[string]int{}}
	err := p.read(csv.NewReader(br), m)
	// The whole file is checked for UTF-8 first, as when it was read whole.
	if err == nil {
		_, err = io.Copy(io.Discard, br)
	}
	var nu *errNotUTF8
	switch {
	case errors.As(err, &nu):
		return nil, &Error{File: name, Rows: []RowError{{nu.line, "the file is not UTF-8: convert it (iconv -f LATIN1 -t UTF-8) and import again"}}, Total: 1}
	case err != nil:
		return nil, fmt.Errorf("inventory: %s: %w", name, err)
	case p.total > 0:
		return nil, &Error{File: name, Rows: p.rows, Total: p.total}
	}
	return p.out, nil
}

// parser holds what reading one file keeps: the targets while no row is
// bad, the first bad rows, and the ids seen (for duplicates).
type parser struct {
	name  string
	lim   Limits
	out   []target.Target
	rows  []RowError
	total int
	seen  map[string]int
}

func (p *parser) refuse(line int, msg string) {
	p.total++
	p.out = nil // nothing will be applied: keep no targets
	if len(p.rows) < p.lim.MaxErrors {
		if len(msg) > maxMsgBytes {
			msg = strings.ToValidUTF8(msg[:maxMsgBytes], "") + "..."
		}
		p.rows = append(p.rows, RowError{line, msg})
	}
}

// read parses the rows; it returns only errors of the reader underneath
// (UTF-8, the body), bad rows are p.refuse'd.
func (p *parser) read(r *csv.Reader, m Mapping) error {
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if !errors.Is(err, io.EOF) && !errors.As(err, &pe) {
			return err
		}
		p.refuse(1, "no header row: "+err.Error())
		return nil
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	col := map[string]int{}
	var missing []string
	for _, field := range Fields() {
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
		p.refuse(1, "missing column "+strings.Join(missing, ", "))
		return nil
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line := 0
		if err != nil {
			// FieldPos is valid only after a successful Read.
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return err
			}
			p.refuse(pe.Line, "not a CSV row: "+err.Error())
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
				p.refuse(line, fmt.Sprintf("criticality %q is not a number", c))
				continue
			}
			t.Criticality = n
		}
		var msgs []string
		for _, pr := range t.Validate() {
			msgs = append(msgs, pr.Field+": "+pr.Msg)
		}
		if len(msgs) > 0 {
			p.refuse(line, strings.Join(msgs, "; "))
			continue
		}
		if first, dup := p.seen[t.ID]; dup {
			p.refuse(line, fmt.Sprintf("duplicate target %q (first on line %d)", t.ID, first))
			continue
		}
		if len(p.seen) == p.lim.MaxTargets {
			p.refuse(line, fmt.Sprintf("more than %d targets in one file: split it", p.lim.MaxTargets))
			return nil
		}
		p.seen[strings.Clone(t.ID)] = line
		if p.total == 0 {
			p.out = append(p.out, t)
		}
	}
}
