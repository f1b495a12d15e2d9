// Package step holds the kinds of playbook steps: what each is
// configured with, how that configuration is checked against what the
// collector has (receivers, roles, the commands it allows), and how each
// runs given a Runtime; the runner (runs, approvals, audit) drives them.
package step

import (
	"strings"
	"text/template"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Env is what steps are checked against.
type Env struct {
	// Receivers are the alerting receivers a notify step may name.
	Receivers map[string]bool
	// Roles are the roles an approval may require.
	Roles map[string]bool
	// ExecAllow lists the commands an exec step may run, by absolute,
	// clean path: nothing else runs, and never through a shell.
	ExecAllow []string
	// ReadSecret, when set, reads every secret file a step names (http
	// header_files) while the playbook is checked: a missing, unreadable
	// or empty one is refused then, not when the step runs.
	ReadSecret func(path string) (string, error)
	// Dir is the folder of the playbook file being checked: a relative
	// secret file is taken from it.
	Dir string
}

// Spec is one step kind's configuration: what a step of the kind is
// given in its playbook. Its kind (name, defaults) is its entry in the
// table of kinds (registry.go).
type Spec interface {
	// Validate reports the problems of the spec, at paths under at.
	Validate(env *Env, at configfile.Path) []configfile.Problem
	Runner
}

// checkTemplate parses s as a Go template (the data: .Inputs, .Alert,
// .Run, .Drill); missing keys are errors when it runs.
func checkTemplate(s string, at configfile.Path) []configfile.Problem {
	if !strings.Contains(s, "{{") {
		return nil
	}
	if _, err := template.New("step").Option("missingkey=error").Parse(s); err != nil {
		return []configfile.Problem{configfile.At(at, "template: %v", trimTemplateErr(err))}
	}
	return nil
}

func trimTemplateErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "step:"); i >= 0 {
		msg = strings.TrimSpace(msg[i+len("step:"):])
	}
	return msg
}
