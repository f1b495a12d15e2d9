package target

// Deps is the probe kind that observes a target's dependencies. It is not
// listed under checks: it runs on the target's deps_schedule.
const Deps = "deps"

// kind is one probe kind, declared once. The agent's probers
// (agent/probe), the labels each writes (proberLabels) and the vantage
// quorum (alerting/rule) are all keyed by these names; tests fail when a
// kind is missing from any of them.
type kind struct {
	name string
	// listed: a target may list it under checks (deps runs on its own
	// schedule instead).
	listed bool
	// availability: its success is the service's availability, the
	// vote the vantage quorum tallies (tls and deps only inform).
	availability bool
	// needs, when set, reports what a target listing the kind lacks:
	// the field and the sentence, or "" when nothing.
	needs func(t *Target) (field, msg string)
}

// kinds is the one table of probe kinds, in the order messages list them.
var kinds = [...]kind{
	{name: "http", listed: true, availability: true, needs: func(t *Target) (string, string) {
		if t.URL == "" {
			return "checks", "the http check needs a url"
		}
		return "", ""
	}},
	{name: "tls", listed: true},
	{name: "dns", listed: true, availability: true},
	{name: "tcp", listed: true, availability: true, needs: func(t *Target) (string, string) {
		if t.TCP.Address == "" && t.Host == "" {
			return "tcp", "the tcp check needs tcp.address or host (host:port)"
		}
		return "", ""
	}},
	{name: Deps},
}

// Kinds returns every probe kind, deps included: the kinds the agent must
// have a prober for.
func Kinds() []string { return kindNames(func(kind) bool { return true }) }

// CheckKinds returns the probe kinds a target may list under checks.
func CheckKinds() []string { return kindNames(func(k kind) bool { return k.listed }) }

// AvailabilityKinds returns the checks whose success is a service's
// availability: the votes of the vantage quorum.
func AvailabilityKinds() []string { return kindNames(func(k kind) bool { return k.availability }) }

func kindNames(keep func(kind) bool) []string {
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if keep(k) {
			out = append(out, k.name)
		}
	}
	return out
}

// lookupKind returns the kind named name.
func lookupKind(name string) (kind, bool) {
	for _, k := range kinds {
		if k.name == name {
			return k, true
		}
	}
	return kind{}, false
}
