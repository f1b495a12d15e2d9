// Package prometheus holds the rule file of Bulwark watching itself; the
// test runs promtool on it, as CI must, and loads it as the collector does.
package prometheus

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

func TestSelfRules(t *testing.T) {
	promtool := testbin.Need(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", "bulwark-self.rules.yml"}, {"test", "rules", "bulwark-self.tests.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The collector loads it too (alerting.rule_files).
	if err := rule.Check("bulwark-self.rules.yml"); err != nil {
		t.Errorf("bulwark: %v", err)
	}
}
