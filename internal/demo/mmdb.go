package demo

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one address range of the demo world with its owner.
type Network struct {
	CIDR    string
	ASN     uint32
	ASName  string
	Country string
}

// WriteMMDB writes GeoLite2-Country and GeoLite2-ASN shaped databases
// (country.mmdb, asn.mmdb) for nets into dir.
func WriteMMDB(dir string, nets []Network) error {
	country, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", Description: map[string]string{"en": "Bulwark demo world: countries"}, Languages: []string{"en"}, IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		return fmt.Errorf("mmdb: %w", err)
	}
	asn, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", Description: map[string]string{"en": "Bulwark demo world: autonomous systems"}, Languages: []string{"en"}, IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		return fmt.Errorf("mmdb: %w", err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.CIDR)
		if err != nil {
			return fmt.Errorf("mmdb: network %q: %w", n.CIDR, err)
		}
		if err := country.Insert(ipnet, mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)},
		}); err != nil {
			return fmt.Errorf("mmdb: insert %s: %w", n.CIDR, err)
		}
		if err := asn.Insert(ipnet, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(n.ASN),
			"autonomous_system_organization": mmdbtype.String(n.ASName),
			"autonomous_system_country":      mmdbtype.String(n.Country),
		}); err != nil {
			return fmt.Errorf("mmdb: insert %s: %w", n.CIDR, err)
		}
	}
	for name, tree := range map[string]*mmdbwriter.Tree{"country.mmdb": country, "asn.mmdb": asn} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("mmdb: %w", err)
		}
		if _, err := tree.WriteTo(f); err != nil {
			f.Close()
			return fmt.Errorf("mmdb: write %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("mmdb: close %s: %w", name, err)
		}
	}
	return nil
}
