package attrib

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Policy says which jurisdictions count as foreign: everything but home and
// the trusted partners, with overrides per sector and per target.
type Policy struct {
	Home    string                    `yaml:"home"`
	Trusted []string                  `yaml:"trusted"`
	Sectors map[string]PolicyOverride `yaml:"sectors"`
	Targets map[string]PolicyOverride `yaml:"targets"`
}

// PolicyOverride replaces the trusted list (and optionally home) for a
// sector or a target.
type PolicyOverride struct {
	Home    string   `yaml:"home"`
	Trusted []string `yaml:"trusted"`
}

// Validate checks country codes. An empty policy is valid: nothing is
// foreign until home is set.
func (p *Policy) Validate(at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	check := func(path configfile.Path, c string) {
		if !countryRE.MatchString(c) {
			ps = append(ps, configfile.At(path, "%q is not a two-letter ISO 3166 country code", c))
		}
	}
	if p.Home != "" {
		check(append(at, "home"), p.Home)
	}
	for i, c := range p.Trusted {
		check(append(at, "trusted", i), c)
	}
	for name, m := range map[string]map[string]PolicyOverride{"sectors": p.Sectors, "targets": p.Targets} {
		for k, o := range m {
			if o.Home != "" {
				check(append(at, name, k, "home"), o.Home)
			}
			for i, c := range o.Trusted {
				check(append(at, name, k, "trusted", i), c)
			}
		}
	}
	if p.Home == "" && (len(p.Trusted) > 0 || len(p.Sectors) > 0 || len(p.Targets) > 0) {
		ps = append(ps, configfile.At(at, "home is required when trusted partners or overrides are set"))
	}
	return ps
}

// Foreign tells whether jurisdiction j is foreign for a target of sector.
// An unknown jurisdiction is not: it is unattributed, counted apart (as
// neither foreign nor domestic), so that no "foreign" is claimed from an
// unknown.
func (p *Policy) Foreign(j, sector, target string) bool {
	if p.Home == "" || j == "" {
		return false
	}
	home, trusted := p.Home, p.Trusted
	if o, ok := p.Sectors[sector]; ok {
		home, trusted = cmp.Or(o.Home, home), o.Trusted
	}
	if o, ok := p.Targets[target]; ok {
		home, trusted = cmp.Or(o.Home, home), o.Trusted
	}
	j = strings.ToUpper(j)
	return j != home && !slices.Contains(trusted, j)
}

// Describe says how a jurisdiction stands under the policy.
func (p *Policy) Describe(j, sector, target string) string {
	switch {
	case j == "":
		return "unknown jurisdiction (unattributed)"
	case !p.Foreign(j, sector, target):
		return fmt.Sprintf("%s (home or trusted)", j)
	}
	return fmt.Sprintf("%s (foreign)", j)
}
