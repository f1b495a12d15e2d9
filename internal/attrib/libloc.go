package attrib

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// LiblocStats reports what an import read.
type LiblocStats struct {
	Networks, ASNames int
	Header            []string  // the dump's comment header: vendor, date, licence
	Generated         time.Time // the dump's "Generated:" date (zero when absent)
}

// ImportLibloc reads the text export of a libloc database (`location
// dump`, from Debian's location and libloc-database packages; IPFire
// Project, CC BY-SA 4.0) and writes country.mmdb and asn.mmdb into dir,
// with an ATTRIBUTION file carrying the dump's licence header.
func ImportLibloc(r io.Reader, dir string) (LiblocStats, error) {
	var st LiblocStats
	country, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", Languages: []string{"en"}, DisableIPv4Aliasing: true, IncludeReservedNetworks: true,
		Description: map[string]string{"en": "Bulwark import of libloc (IPFire Project location database, CC BY-SA 4.0): countries"}, RecordSize: 28})
	if err != nil {
		return st, fmt.Errorf("libloc: %w", err)
	}
	asn, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", Languages: []string{"en"}, DisableIPv4Aliasing: true, IncludeReservedNetworks: true,
		Description: map[string]string{"en": "Bulwark import of libloc (IPFire Project location database, CC BY-SA 4.0): autonomous systems"}, RecordSize: 28})
	if err != nil {
		return st, fmt.Errorf("libloc: %w", err)
	}
	names := map[uint32]string{}
	type netRec struct {
		cidr    string
		country string
		asn     uint32
	}
	var pending []netRec // networks come after the AS names in a dump, but do not rely on it
	block := map[string]string{}
	line := 0
	flush := func() error {
		defer clear(block)
		if v, ok := block["aut-num"]; ok && block["net"] == "" {
			n, err := strconv.ParseUint(strings.TrimPrefix(v, "AS"), 10, 32)
			if err != nil {
				return fmt.Errorf("libloc: line %d: aut-num %q: %w", line, v, err)
			}
			names[uint32(n)] = block["name"]
			st.ASNames++
			return nil
		}
		if c := block["net"]; c != "" {
			rec := netRec{cidr: c, country: block["country"]}
			if v := block["aut-num"]; v != "" {
				n, err := strconv.ParseUint(strings.TrimPrefix(v, "AS"), 10, 32)
				if err != nil {
					return fmt.Errorf("libloc: line %d: aut-num %q: %w", line, v, err)
				}
				rec.asn = uint32(n)
			}
			pending = append(pending, rec)
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line++
		t := sc.Text()
		if strings.HasPrefix(t, "#") {
			if h := strings.TrimSpace(strings.TrimPrefix(t, "#")); h != "" && len(st.Header) < 20 {
				st.Header = append(st.Header, h)
				if d, ok := strings.CutPrefix(h, "Generated:"); ok {
					st.Generated, _ = time.Parse(time.RFC1123, strings.TrimSpace(d))
				}
			}
			continue
		}
		if strings.TrimSpace(t) == "" {
			if err := flush(); err != nil {
				return st, err
			}
			continue
		}
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return st, fmt.Errorf("libloc: line %d: %q is not a key: value line", line, t)
		}
		// MMDB strings must be UTF-8: a dump with another encoding in an AS
		// name would otherwise write a database that cannot be read back.
		block[strings.TrimSpace(k)] = strings.ToValidUTF8(strings.TrimSpace(v), "\uFFFD")
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("libloc: read: %w", err)
	}
	if err := flush(); err != nil {
		return st, err
	}
	if len(pending) == 0 {
		return st, fmt.Errorf("libloc: no networks in the dump: is it the output of `location dump`?")
	}
	// An AS's registration country, approximated by the country holding
	// most of its IPv4 addresses (each IPv6 network counts as one /24).
	weight := map[uint32]map[string]float64{}
	for _, n := range pending {
		if n.asn == 0 || len(n.country) != 2 {
			continue
		}
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			continue
		}
		w := 256.0
		if ones, bits := ipnet.Mask.Size(); bits == 32 {
			w = float64(uint64(1) << (32 - ones))
		}
		if weight[n.asn] == nil {
			weight[n.asn] = map[string]float64{}
		}
		weight[n.asn][n.country] += w
	}
	asCountry := map[uint32]string{}
	for asn, byCountry := range weight {
		best, bw := "", -1.0
		for c, w := range byCountry {
			if w > bw || (w == bw && c < best) {
				best, bw = c, w
			}
		}
		asCountry[asn] = best
	}
	for _, n := range pending {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			return st, fmt.Errorf("libloc: network %q: %w", n.cidr, err)
		}
		if len(n.country) == 2 {
			if err := country.Insert(ipnet, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(n.country)}}); err != nil {
				return st, fmt.Errorf("libloc: insert %s: %w", n.cidr, err)
			}
		}
		if n.asn != 0 {
			rec := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n.asn),
				"autonomous_system_organization": mmdbtype.String(names[n.asn])}
			if c := asCountry[n.asn]; c != "" {
				rec["autonomous_system_country"] = mmdbtype.String(c) // Bulwark's own field
			}
			if err := asn.Insert(ipnet, rec); err != nil {
				return st, fmt.Errorf("libloc: insert %s: %w", n.cidr, err)
			}
		}
		st.Networks++
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("libloc: %w", err)
	}
	for name, tree := range map[string]*mmdbwriter.Tree{"country.mmdb": country, "asn.mmdb": asn} {
		if err := writeTree(filepath.Join(dir, name), tree); err != nil {
			return st, err
		}
	}
	notice := "These databases were built by `bulwark geo import --libloc` from the libloc location\n" +
		"database (IPFire Project, https://location.ipfire.org/), licensed CC BY-SA 4.0\n" +
		"(https://creativecommons.org/licenses/by-sa/4.0/). Header of the export:\n\n  " + strings.Join(st.Header, "\n  ") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "ATTRIBUTION"), []byte(notice), 0o644); err != nil {
		return st, fmt.Errorf("libloc: %w", err)
	}
	if !st.Generated.IsZero() {
		if err := os.WriteFile(filepath.Join(dir, sourceDateFile), []byte(st.Generated.UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
			return st, fmt.Errorf("libloc: %w", err)
		}
	}
	return st, nil
}

func writeTree(path string, t *mmdbwriter.Tree) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("libloc: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := t.WriteTo(w); err != nil {
		f.Close()
		return fmt.Errorf("libloc: write %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("libloc: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("libloc: write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
