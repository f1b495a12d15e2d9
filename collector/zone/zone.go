// Package zone reads a national registry's zone file and records, for
// every delegated domain, its name servers, glue addresses and whether a
// DS record exists: DNS-layer dependency observations of the whole nation
// before any agent has probed anything. Snapshots are kept with history so
// a later import shows which domains moved their DNS.
package zone

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Delegation is one delegated domain of the zone.
type Delegation struct {
	Domain string              `json:"domain"`
	NS     []string            `json:"ns"`
	Glue   map[string][]string `json:"glue,omitempty"` // in-zone name server -> addresses
	DS     bool                `json:"ds"`
}

// Snapshot is one import of a zone file.
type Snapshot struct {
	Origin      string       `json:"origin"`
	File        string       `json:"file"`
	Exported    time.Time    `json:"exported"` // the observation time of every delegation
	Imported    time.Time    `json:"imported"`
	Records     int          `json:"records"`
	NSRecords   int          `json:"ns_records"`
	DSRecords   int          `json:"ds_records"`
	Delegations []Delegation `json:"delegations"`
}

// Error is a zone file problem with its line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

var exportedRE = regexp.MustCompile(`(?i)^;+\s*exported:\s*(.+)$`)

// maxNSPerDomain bounds what one delegation may hold (untrusted input).
const maxNSPerDomain = 32

// Parse reads a DNS master file. origin is the zone's name ("" to take it
// from the SOA). The export time comes from a ";; Exported:" header line,
// else the file's modification time is used by ParseFile.
func Parse(r io.Reader, name, origin string) (*Snapshot, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(4096)
	s := &Snapshot{File: name, Origin: dns.Fqdn(origin), Imported: time.Now().UTC()}
	if origin == "" {
		s.Origin = ""
	}
	sc := bufio.NewScanner(bytes.NewReader(head))
	for sc.Scan() {
		if m := exportedRE.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			if t, err := time.Parse("2006-01-02 15:04:05", strings.TrimSpace(m[1])); err == nil {
				s.Exported = t.UTC()
			}
		}
	}
	zp := dns.NewZoneParser(br, s.Origin, name)
	zp.SetDefaultTTL(3600)
	byDomain := map[string]*Delegation{}
	glue := map[string][]string{}
	var order []string
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		s.Records++
		h := rr.Header()
		owner := strings.ToLower(h.Name)
		switch v := rr.(type) {
		case *dns.SOA:
			if s.Origin == "" {
				s.Origin = owner
			}
		case *dns.NS:
			s.NSRecords++
			if owner == s.Origin {
				continue // the zone's own name servers, not a delegation
			}
			d := byDomain[owner]
			if d == nil {
				d = &Delegation{Domain: owner}
				byDomain[owner] = d
				order = append(order, owner)
			}
			if len(d.NS) < maxNSPerDomain {
				d.NS = append(d.NS, strings.ToLower(v.Ns))
			}
		case *dns.DS:
			s.DSRecords++
			d := byDomain[owner]
			if d == nil {
				d = &Delegation{Domain: owner}
				byDomain[owner] = d
				order = append(order, owner)
			}
			d.DS = true
		case *dns.A:
			glue[owner] = append(glue[owner], v.A.String())
		case *dns.AAAA:
			glue[owner] = append(glue[owner], v.AAAA.String())
		}
	}
	if err := zp.Err(); err != nil {
		var pe *dns.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: parseErrorLine(pe), Msg: strings.TrimPrefix(pe.Error(), "dns: ")}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if s.Origin == "" {
		return nil, &Error{File: name, Line: 1, Msg: "no SOA record and no origin given: which zone is this?"}
	}
	for _, dom := range order {
		d := byDomain[dom]
		if len(d.NS) == 0 {
			continue // a DS without NS is not a delegation
		}
		for _, ns := range d.NS {
			if a, ok := glue[ns]; ok {
				if d.Glue == nil {
					d.Glue = map[string][]string{}
				}
				d.Glue[ns] = a
			}
		}
		s.Delegations = append(s.Delegations, *d)
	}
	slices.SortFunc(s.Delegations, func(a, b Delegation) int { return cmp.Compare(a.Domain, b.Domain) })
	if len(s.Delegations) == 0 {
		return nil, &Error{File: name, Line: 1, Msg: "no delegations (NS records below the origin) in the zone"}
	}
	return s, nil
}

var lineRE = regexp.MustCompile(`line: (\d+)`)

func parseErrorLine(pe *dns.ParseError) int {
	if m := lineRE.FindStringSubmatch(pe.Error()); m != nil {
		n := 0
		fmt.Sscan(m[1], &n)
		return n
	}
	return 0
}

// ParseFile reads a zone file; without an export header its modification
// time is the observation time.
func ParseFile(path, origin string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone: %w", err)
	}
	defer f.Close()
	s, err := Parse(f, path, origin)
	if err != nil {
		return nil, err
	}
	if s.Exported.IsZero() {
		if fi, err := f.Stat(); err == nil {
			s.Exported = fi.ModTime().UTC()
		}
	}
	return s, nil
}
