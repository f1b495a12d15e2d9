package floors

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/bulwarkhq/bulwark/"

// floor of each top-level room; deploy holds tools and tests of its own.
var floor = map[string]int{
	"internal": 0, "agent": 1, "alerting": 1, "playbooks": 2,
	"collector": 3, "dashboards": 3, "cmd": 4, "deploy": 5,
}

func room(pkg string) string {
	r, _, _ := strings.Cut(strings.TrimPrefix(pkg, module), "/")
	return r
}

// list runs go list over the whole module with a template.
func list(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// An import runs down the floors or stays in its room, never up.
func TestNoImportRunsUp(t *testing.T) {
	for _, line := range list(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"...") {
		fields := strings.Fields(line)
		from := room(fields[0])
		f, ok := floor[from]
		if !ok {
			t.Errorf("%s: top-level room %q has no floor", fields[0], from)
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			to := room(imp)
			if to != from && floor[to] >= f {
				t.Errorf("%s (%s, floor %d) imports %s (%s, floor %d)", fields[0], from, f, imp, to, floor[to])
			}
		}
	}
}

// The binaries a user installs carry no test helper (fake servers, test
// binaries); the demo world lives in internal/demo.
func TestBinariesLinkNoTestHelper(t *testing.T) {
	for _, dep := range list(t, "-deps", module+"cmd/...") {
		if strings.HasPrefix(dep, module+"internal/testenv") {
			t.Errorf("a production binary links %s", dep)
		}
	}
}
