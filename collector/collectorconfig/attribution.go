package collectorconfig

import (
	"os"

	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Attribution configures who is behind each dependency and which
// jurisdictions count as foreign.
type Attribution struct {
	// GeoDir holds country.mmdb and asn.mmdb (or GeoLite2-*.mmdb); empty:
	// addresses are attributed by the catalog's names only.
	GeoDir string `yaml:"geo_dir"`
	// CatalogFiles extend or override the shipped provider catalog.
	CatalogFiles []string `yaml:"catalog_files"`
	// TrustStore is a PEM bundle or a directory of PEM files of trusted
	// root certificates: CAs the catalog does not name are attributed to
	// the country of the root they are, or chain to (default Debian's
	// /etc/ssl/certs/ca-certificates.crt when present; "none" for no store).
	TrustStore string        `yaml:"trust_store"`
	Policy     attrib.Policy `yaml:"policy"`
	// Interval between evaluations (default 1m); Window is how old the
	// newest observation of a service may be (default 3h).
	Interval configfile.Duration `yaml:"interval"`
	Window   configfile.Duration `yaml:"window"`
}

// Roots loads the trust store: the one configured, else Debian's bundle
// when present (nil, no error, when there is none or it is "none").
func (a Attribution) Roots() (*attrib.TrustStore, error) {
	switch a.TrustStore {
	case "none":
		return nil, nil
	case "":
		if _, err := os.Stat(attrib.DefaultTrustStore); err != nil {
			return nil, nil
		}
		return attrib.LoadTrustStore(attrib.DefaultTrustStore)
	}
	return attrib.LoadTrustStore(a.TrustStore)
}
