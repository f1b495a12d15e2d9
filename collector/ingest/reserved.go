package ingest

import "strings"

// collectorNames is the one table of the series names the collector
// writes itself or its rules read as its own. An agent pushing one could
// forge a page (a copy of bulwark_target_availability) or silence a rule
// (a duplicate of a series a rule joins on), so ingest refuses them from
// agents (reason reserved_name). The collector package's tests fail when
// the collector writes, or a built-in rule reads, a name this table does
// not cover.
var collectorNames = []struct {
	match  string
	kind   matchKind
	except string // a prefix within match that agents may use
	why    string
}{
	{"bulwark_", prefix, "bulwark_agent_", "the collector's own metrics, the rule manager's bulwark_target_*, the dependency graph's bulwark_layer_state and bulwark_dependency_*; agents push their own health as bulwark_agent_*"},
	{"bulwark_agent_last_push_timestamp_seconds", exact, "", "written by the rule manager from what ingest saw; AgentSilent reads it"},
	{"prometheus_rule_group_", prefix, "", "the rule manager's metrics, stored with the collector's own"},
	{"ALERTS", exact, "", "written by the rule manager"},
	{"ALERTS_FOR_STATE", exact, "", "written by the rule manager, read back to restore pending alerts"},
	{":", contains, "", "recording rules' outputs (level:metric:operation, Prometheus's naming convention)"},
}

type matchKind int

const (
	exact matchKind = iota
	prefix
	contains
)

// Reserved reports whether a series named name is the collector's alone:
// agents may not push it.
func Reserved(name string) bool {
	for _, n := range collectorNames {
		switch n.kind {
		case exact:
			if name == n.match {
				return true
			}
		case prefix:
			if strings.HasPrefix(name, n.match) && (n.except == "" || !strings.HasPrefix(name, n.except)) {
				return true
			}
		case contains:
			if strings.Contains(name, n.match) {
				return true
			}
		}
	}
	return false
}
