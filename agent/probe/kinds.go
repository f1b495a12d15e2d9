package probe

// probers maps each probe kind (internal/target's Kinds) to its
// implementation: the one place a new kind's prober is registered.
// TestEveryKindHasAProber fails when a kind has none, or a prober no kind.
var probers = map[string]ProbeFn{
	"http": ProbeHTTP,
	"tls":  ProbeTLS,
	"dns":  ProbeDNS,
	"tcp":  ProbeTCP,
	"deps": ProbeDeps,
}
