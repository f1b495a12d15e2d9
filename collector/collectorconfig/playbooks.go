package collectorconfig

import (
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

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
