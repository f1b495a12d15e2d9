package target

import "slices"

// seriesLabels are on every series Bulwark stores: the agent sets the
// first four, the collector stamps agent and vantage from the identity;
// drill marks what an agent probed under a drill's cut.
var seriesLabels = []string{"__name__", "target", "sector", "check", "agent", "vantage", "drill"}

// proberLabels is the one table of the labels each check writes on its
// own series ("*": every check, through the runner). A probe package test
// fails when a prober writes a label this table does not list.
var proberLabels = map[string][]string{
	"*":    {"reason"},           // probe_failure_info{reason}
	"http": {"phase", "version"}, // probe_http_duration_seconds{phase}, probe_tls_version_info{version}
	"tls":  {"phase", "version", "common_name", "country", "organization"},
	"dns":  {"phase"},            // probe_dns_duration_seconds{phase}
	"tcp":  {"phase", "version"}, // probe_tcp_duration_seconds{phase}, probe_tls_version_info{version}
	"deps": {"addr", "kind", "layer", "name", "position", "zone", "organization", "country", "sha256", "anchor_key_id"},
}

// collectorLabels are added by the collector to the series it derives
// from dependency observations (bulwark_dependency_info and its kin).
var collectorLabels = []string{"provider", "asn", "jurisdiction", "rule", "foreign", "state", "worst_layer", "worst_state"}

// ProberLabels returns the labels the check writes, those of every check included.
func ProberLabels(check string) []string {
	return append(slices.Clone(proberLabels["*"]), proberLabels[check]...)
}

// Reserved reports whether a target label named name would collide with a
// label Bulwark writes: such a label is a configuration error, not a
// refused batch at run time.
func Reserved(name string) bool {
	if slices.Contains(seriesLabels, name) || slices.Contains(collectorLabels, name) {
		return true
	}
	for _, ls := range proberLabels {
		if slices.Contains(ls, name) {
			return true
		}
	}
	return false
}
