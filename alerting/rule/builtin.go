package rule

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// BuiltinGroup is the name of the group of built-in rules.
const BuiltinGroup = "bulwark-builtin"

// AvailabilityGroup holds the built-in availability alerts (ServiceDown*),
// evaluated every AvailabilityInterval (or the evaluation interval, when
// shorter): each evaluation first re-tallies the targets whose results
// arrived since (Manager.Arrived), so an outage is told a probe's result
// plus at most about a second after, whatever the evaluation interval.
const AvailabilityGroup = "bulwark-availability"

// AvailabilityInterval is the availability group's evaluation interval.
const AvailabilityInterval = time.Second

// Builtin tunes the rules Bulwark ships enabled. Every alert can be
// turned off by name in Disabled.
type Builtin struct {
	// Disabled lists alert names not to evaluate (e.g. LatencyAboveObjective).
	Disabled []string `yaml:"disabled"`
	// QuorumAgents and QuorumShare: a service is down only when at least
	// min(QuorumAgents, agents reporting) agents, and at least QuorumShare
	// of those reporting, say so (defaults 2 and 0.5).
	QuorumAgents int     `yaml:"quorum_agents"`
	QuorumShare  float64 `yaml:"quorum_share"`
	// VoteWindow is how long an agent's newest result counts as its vote;
	// an agent silent for longer is not counted (default 2m).
	VoteWindow configfile.Duration `yaml:"vote_window"`
	// DownFor is how long a classification must hold before it fires
	// (absent: 1m; 0s: at the first evaluation that sees it, the quorum
	// being the only guard).
	DownFor *configfile.Duration `yaml:"down_for"`
	// HomeVantages are the vantage names probing from the home
	// jurisdiction (default: home); every other vantage is abroad.
	HomeVantages []string `yaml:"home_vantages"`
	// CertDays is, per criticality (1-3), how many days before expiry a
	// certificate alerts (default 30, 21, 14); CertDaysDefault for targets
	// without a criticality (default 14).
	CertDays        map[int]int `yaml:"cert_days"`
	CertDaysDefault int         `yaml:"cert_days_default"`
	// DNSSECDays: RRSIG expiry warning (default 3).
	DNSSECDays int `yaml:"dnssec_days"`
	// LatencyObjective applies to targets that set none (default 2s);
	// LatencyFor is how long it must be exceeded (default 5m).
	LatencyObjective configfile.Duration `yaml:"latency_objective"`
	LatencyFor       configfile.Duration `yaml:"latency_for"`
	// DriftFor is how long a new provider or jurisdiction in a layer must
	// persist before DependencyDrift fires, and how far back it must not
	// have been seen (default 10m): a page that fails for a minute does not
	// read as a provider change.
	DriftFor configfile.Duration `yaml:"drift_for"`
	// ForeignCriticalFor is how long a layer must stay newly
	// foreign-critical before ForeignCriticalLayerNew fires (default 10m).
	ForeignCriticalFor configfile.Duration `yaml:"foreign_critical_for"`
}

// DefaultBuiltin returns the values used for zero fields, fresh on every
// call.
func DefaultBuiltin() Builtin {
	return Builtin{
		QuorumAgents: 2, QuorumShare: 0.5,
		VoteWindow: configfile.Duration(2 * time.Minute), DownFor: DurationOf(time.Minute),
		HomeVantages: []string{"home"},
		CertDays:     map[int]int{1: 30, 2: 21, 3: 14}, CertDaysDefault: 14, DNSSECDays: 3,
		LatencyObjective: configfile.Duration(2 * time.Second), LatencyFor: configfile.Duration(5 * time.Minute),
		DriftFor: configfile.Duration(10 * time.Minute), ForeignCriticalFor: configfile.Duration(10 * time.Minute),
	}
}

// DurationOf is d as an optional duration of the configuration.
func DurationOf(d time.Duration) *configfile.Duration {
	v := configfile.Duration(d)
	return &v
}

// WithDefaults fills zero fields from DefaultBuiltin. The result shares no
// slice, map or pointer with b or with what another call returned.
func (b Builtin) WithDefaults() Builtin {
	d := DefaultBuiltin()
	d.Disabled = slices.Clone(b.Disabled)
	if b.QuorumAgents > 0 {
		d.QuorumAgents = b.QuorumAgents
	}
	if b.QuorumShare > 0 {
		d.QuorumShare = b.QuorumShare
	}
	if b.DownFor != nil {
		d.DownFor = DurationOf(time.Duration(*b.DownFor))
	}
	for _, f := range []struct{ dst, src *configfile.Duration }{{&d.VoteWindow, &b.VoteWindow},
		{&d.LatencyObjective, &b.LatencyObjective}, {&d.LatencyFor, &b.LatencyFor}, {&d.DriftFor, &b.DriftFor},
		{&d.ForeignCriticalFor, &b.ForeignCriticalFor}} {
		if *f.src > 0 {
			*f.dst = *f.src
		}
	}
	if len(b.HomeVantages) > 0 {
		d.HomeVantages = slices.Clone(b.HomeVantages)
	}
	if len(b.CertDays) > 0 {
		d.CertDays = maps.Clone(b.CertDays)
	}
	if b.CertDaysDefault > 0 {
		d.CertDaysDefault = b.CertDaysDefault
	}
	if b.DNSSECDays > 0 {
		d.DNSSECDays = b.DNSSECDays
	}
	return d
}

// AlertNames are the built-in alerts, in the order they are evaluated.
func AlertNames() []string {
	return []string{"ServiceDownEverywhere", "ServiceDownFromAbroadOnly", "ServiceDownFromHomeOnly", "ServiceDownOnOneVantage",
		"AgentSilent", "TargetNoData", "LatencyAboveObjective", "CertificateExpiring", "DNSSECSignaturesExpiring",
		"ForeignCriticalLayerNew", "DependencyDrift"}
}

// Validate reports settings that cannot work.
func (b Builtin) Validate() error {
	for _, n := range b.Disabled {
		if !slices.Contains(AlertNames(), n) {
			return fmt.Errorf("disabled: unknown built-in alert %q (known: %s)", n, strings.Join(AlertNames(), ", "))
		}
	}
	if b.QuorumShare > 1 {
		return fmt.Errorf("quorum_share %.2f must be at most 1", b.QuorumShare)
	}
	for c := range b.CertDays {
		if c < 1 || c > 3 {
			return fmt.Errorf("cert_days: criticality %d is not between 1 and 3", c)
		}
	}
	return nil
}
