package collectorconfig

import (
	"net/netip"
	"regexp"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Drill is a failover drill the collector starts on a schedule, as a
// planner would with `bulwark drill start`.
type Drill struct {
	Name string `yaml:"name"`
	// Schedule is a five-field cron expression (CRON_TZ=Zone allowed) or
	// a descriptor such as @weekly.
	Schedule string   `yaml:"schedule"`
	Cut      DrillCut `yaml:"cut"`
	// Duration is how long the cut lasts (at most 24h).
	Duration configfile.Duration `yaml:"duration"`
	// Playbooks run in drill mode when it starts.
	Playbooks []string `yaml:"playbooks"`
}

// DrillCut is what a scheduled drill cuts: countries, providers (id,
// name or alias), AS numbers, address ranges.
type DrillCut struct {
	Countries []string `yaml:"countries"`
	Providers []string `yaml:"providers"`
	ASNs      []uint32 `yaml:"asns"`
	CIDRs     []string `yaml:"cidrs"`
}

var drillNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func validateDrills(ds []Drill) []configfile.Problem {
	var ps []configfile.Problem
	p := func(path configfile.Path, f string, a ...any) { ps = append(ps, configfile.At(path, f, a...)) }
	names := map[string]bool{}
	for i, d := range ds {
		at := configfile.Path{"drills", i}
		if !drillNameRE.MatchString(d.Name) || names[d.Name] {
			p(at.Add("name"), "drill name %q is empty, used twice, or not lower-case letters, digits and dashes", d.Name)
		}
		names[d.Name] = true
		if _, err := cron.ParseStandard(d.Schedule); err != nil {
			p(at.Add("schedule"), "%v", err)
		}
		if d.Duration <= 0 || time.Duration(d.Duration) > 24*time.Hour {
			p(at.Add("duration"), "must be more than 0 and at most 24h")
		}
		c := d.Cut
		if len(c.Countries)+len(c.Providers)+len(c.ASNs)+len(c.CIDRs) == 0 {
			p(at.Add("cut"), "name what is cut: countries, providers, asns or cidrs")
		}
		for j, cc := range c.Countries {
			if !countryRE.MatchString(cc) {
				p(at.Add("cut", "countries", j), "%q is not a two-letter country code", cc)
			}
		}
		for j, s := range c.CIDRs {
			if _, err := netip.ParsePrefix(s); err != nil {
				p(at.Add("cut", "cidrs", j), "%v", err)
			}
		}
	}
	return ps
}
