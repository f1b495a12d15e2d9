package collectorconfig

import (
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// Playbooks configures the emergency-response playbooks.
type Playbooks struct {
	// Files are playbook files (globs allowed).
	Files []string `yaml:"files"`
	// ExecAllow lists the commands exec steps may run (absolute, clean
	// paths); nothing else runs, and never through a shell.
	ExecAllow []string `yaml:"exec_allow"`
}

// PlaybookEnv is what playbooks are checked against: the configured
// receivers, the roles, the exec allow-list; the secret files steps name
// are read, so a missing one is refused when checked.
func (c *Config) PlaybookEnv() *step.Env {
	env := &step.Env{Receivers: map[string]bool{}, Roles: map[string]bool{}, ExecAllow: c.Playbooks.ExecAllow,
		ReadSecret: func(path string) (string, error) { return configfile.Secret(path, "") }}
	for _, r := range c.Alerting.Receivers {
		env.Receivers[r.Name] = true
	}
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleOperator, auth.RoleAdmin} {
		env.Roles[string(r)] = true
	}
	return env
}

// validate reports the problems of the playbooks section: every
// exec_allow entry must be an absolute, clean path, so that what is
// allowed is what runs (a bare name would be looked up on the collector's
// $PATH, a relative one under its working directory).
func (p Playbooks) validate(at configfile.Path) []configfile.Problem {
	var ps []configfile.Problem
	for i, c := range p.ExecAllow {
		if err := step.CheckCommandPath(c); err != nil {
			ps = append(ps, configfile.At(at.Add("exec_allow", i), "%v", err))
		}
	}
	return ps
}
