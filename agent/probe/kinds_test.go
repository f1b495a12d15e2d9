package probe

import (
	"slices"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Every probe kind internal/target declares has a prober here, and no
// prober runs a kind a target cannot name: a kind half-registered fails.
func TestEveryKindHasAProber(t *testing.T) {
	kinds := target.Kinds()
	for _, k := range kinds {
		if probers[k] == nil {
			t.Errorf("kind %q (internal/target/kinds.go) has no prober in agent/probe/kinds.go", k)
		}
	}
	for k := range probers {
		if !slices.Contains(kinds, k) {
			t.Errorf("prober %q is no kind of internal/target/kinds.go", k)
		}
	}
}
