package attrib

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Geo answers country and AS of IP addresses from MaxMind-format databases
// (GeoLite2, DB-IP, IPinfo, or those `bulwark geo import` writes).
type Geo struct {
	country, asn *maxminddb.Reader
	dataDate     time.Time // when the data was generated, as far as known
}

// MaxDataAge is the age past which IP data is called stale: networks
// change hands, and a database years old places addresses by the owners
// of back then.
const MaxDataAge = 365 * 24 * time.Hour

// sourceDateFile holds the date the source data was generated (an import
// stamps its databases with the import's time, not the data's).
const sourceDateFile = "SOURCE_DATE"

// DataDate is when the IP data was generated: the source's date written by
// the import, else the databases' build time.
func (g *Geo) DataDate() time.Time { return g.dataDate }

// Staleness says, when the data is older than MaxDataAge at now, how old it
// is and what to do; "" when it is fresh enough.
func (g *Geo) Staleness(now time.Time) string {
	age := now.Sub(g.dataDate)
	if g.dataDate.IsZero() || age <= MaxDataAge {
		return ""
	}
	return fmt.Sprintf("the IP databases hold data of %s, %d months old: addresses may be placed by their owners of back then. "+
		"Load a newer MaxMind-format pair (GeoLite2-Country.mmdb and GeoLite2-ASN.mmdb, or country.mmdb and asn.mmdb) into the geo directory, "+
		"or import a newer libloc database with `bulwark geo import --libloc`", g.dataDate.Format("2006-01-02"), int(age.Hours()/24/30))
}

// GeoRecord is what the databases know of an address.
type GeoRecord struct {
	Country string // ISO code of the address's location
	ASN     uint32
	ASName  string
	// ASCountry is where the AS is registered, when the database says
	// (databases from `bulwark geo import` do).
	ASCountry string
}

// Database file names tried in a geo directory, in order.
var (
	countryFiles = []string{"country.mmdb", "GeoLite2-Country.mmdb", "dbip-country-lite.mmdb", "GeoLite2-City.mmdb"}
	asnFiles     = []string{"asn.mmdb", "GeoLite2-ASN.mmdb", "dbip-asn-lite.mmdb"}
)

// OpenGeo opens the country and ASN databases in dir. A missing or
// corrupt database is an error: attributing everything to "unknown" in
// silence would mislead the operator.
func OpenGeo(dir string) (*Geo, error) {
	open := func(names []string, what string) (*maxminddb.Reader, error) {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			r, err := maxminddb.Open(p)
			if err != nil {
				return nil, fmt.Errorf("geo: %s database %s is unreadable: %w", what, p, err)
			}
			if err := r.Verify(); err != nil {
				r.Close()
				return nil, fmt.Errorf("geo: %s database %s is corrupt: %w", what, p, err)
			}
			return r, nil
		}
		return nil, fmt.Errorf("geo: no %s database in %s (looked for %v); build one with `bulwark geo import --libloc --out %s`", what, dir, names, dir)
	}
	c, err := open(countryFiles, "country")
	if err != nil {
		return nil, err
	}
	a, err := open(asnFiles, "ASN")
	if err != nil {
		c.Close()
		return nil, err
	}
	g := &Geo{country: c, asn: a, dataDate: time.Unix(int64(c.Metadata.BuildEpoch), 0).UTC()}
	if b, err := os.ReadFile(filepath.Join(dir, sourceDateFile)); err == nil {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b))); err == nil {
			g.dataDate = t
		}
	}
	return g, nil
}

// Lookup returns what the databases know of addr.
func (g *Geo) Lookup(addr netip.Addr) (GeoRecord, error) {
	var rec GeoRecord
	var c struct {
		Country struct {
			ISOCode string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
		Registered struct {
			ISOCode string `maxminddb:"iso_code"`
		} `maxminddb:"registered_country"`
	}
	if err := g.country.Lookup(addr).Decode(&c); err != nil {
		return rec, fmt.Errorf("geo: country of %s: %w", addr, err)
	}
	rec.Country = c.Country.ISOCode
	if rec.Country == "" {
		rec.Country = c.Registered.ISOCode
	}
	var a struct {
		ASN     uint32 `maxminddb:"autonomous_system_number"`
		Name    string `maxminddb:"autonomous_system_organization"`
		Country string `maxminddb:"autonomous_system_country"`
	}
	if err := g.asn.Lookup(addr).Decode(&a); err != nil {
		return rec, fmt.Errorf("geo: AS of %s: %w", addr, err)
	}
	rec.ASN, rec.ASName, rec.ASCountry = a.ASN, a.Name, a.Country
	return rec, nil
}

// Close closes both databases.
func (g *Geo) Close() error {
	return errors.Join(g.country.Close(), g.asn.Close())
}
