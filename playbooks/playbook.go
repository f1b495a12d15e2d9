package playbooks

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// Playbook is one emergency response, as code.
type Playbook struct {
	Name        string    `yaml:"name"`
	Owner       string    `yaml:"owner"`
	Description string    `yaml:"description"`
	Triggers    []Trigger `yaml:"triggers"`
	Inputs      []Input   `yaml:"inputs"`
	// Timeout bounds a whole run (default 4h).
	Timeout configfile.Duration `yaml:"timeout"`
	Steps   []Step              `yaml:"steps"`
	// Recovery holds the steps that run only when a step fails: every
	// step an on_failure names is here, never among Steps (a recovery
	// step there would also run on the success path).
	Recovery []Step `yaml:"recovery"`
	// OnFailure names the recovery step run when a step fails and says
	// no other (default: the run stops, failed).
	OnFailure string `yaml:"on_failure"`

	env  *step.Env
	file string
}

// Trigger starts a run: a firing alert whose labels match, a schedule
// (cron, with an optional time zone), or an operator by hand.
type Trigger struct {
	Alert    map[string]string `yaml:"alert"`
	Schedule string            `yaml:"schedule"`
	TZ       string            `yaml:"tz"`
	Manual   bool              `yaml:"manual"`
}

// Input is a value a run is given (from the alert's labels of the same
// name, or by hand).
type Input struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Required    bool   `yaml:"required"`
	Default     string `yaml:"default"`
}

// Step is one step: exactly one kind (a key of the step, decoded into
// that kind's spec; see playbooks/step's table of kinds), or a parallel
// group of steps.
type Step struct {
	Name     string
	Parallel []Step
	// Timeout bounds the step (default 15m; approvals and checklists 4h).
	Timeout configfile.Duration
	// OnFailure: "abort" (default), "continue", or the name of a step of
	// the playbook's recovery list to run instead (chains of them must
	// not loop).
	OnFailure string
	// DrillSafe lets the step act during a drill; otherwise it is recorded
	// as would-have-run (the default is the kind's: only notify, wait_for,
	// approval and checklist may act).
	DrillSafe *bool

	kind  step.Kind // zero for a parallel group
	spec  step.Spec
	kinds int // how many kinds the step set: more than one is refused
}

// Spec is the step's kind's configuration, nil for a parallel group.
func (s *Step) Spec() step.Spec { return s.spec }

// Kind is the step's kind, the zero Kind (no name) for a parallel group.
func (s *Step) Kind() step.Kind { return s.kind }

// Load reads a playbook file strictly and checks it against env: every
// problem with its file and line.
func Load(path string, env *step.Env) (*Playbook, error) {
	pb := &Playbook{env: env, file: path}
	if err := configfile.LoadFile(path, pb); err != nil {
		return nil, err
	}
	return pb, nil
}

// LoadGlobs loads every playbook the globs name; names must be unique.
func LoadGlobs(globs []string, env *step.Env) ([]*Playbook, error) {
	var out []*Playbook
	seen := map[string]string{}
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("playbooks: %q: %w", g, err)
		}
		for _, f := range files {
			pb, err := Load(f, env)
			if err != nil {
				return nil, err
			}
			if other, dup := seen[pb.Name]; dup {
				return nil, fmt.Errorf("%s: playbook %q is also defined in %s", f, pb.Name, other)
			}
			seen[pb.Name] = f
			out = append(out, pb)
		}
	}
	return out, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$`)

// maxSteps bounds a playbook, parallel groups included.
const maxSteps = 200

// Validate reports every problem of the playbook.
func (pb *Playbook) Validate() []configfile.Problem {
	env := pb.env
	if env == nil {
		env = &step.Env{}
	}
	fileEnv := env // relative paths in steps are the playbook file's
	if pb.file != "" {
		e := *env
		e.Dir = filepath.Dir(pb.file)
		fileEnv = &e
	}
	var ps []configfile.Problem
	p := func(at configfile.Path, f string, a ...any) { ps = append(ps, configfile.At(at, f, a...)) }
	if !nameRE.MatchString(pb.Name) {
		p(configfile.Path{"name"}, "playbook name %q must be lower-case letters, digits and dashes", pb.Name)
	}
	if pb.Owner == "" {
		p(configfile.Path{"owner"}, "a playbook needs an owner")
	}
	if len(pb.Triggers) == 0 {
		p(configfile.Path{"triggers"}, "a playbook needs at least one trigger (alert, schedule or manual)")
	}
	for i, t := range pb.Triggers {
		at := configfile.Path{"triggers", i}
		n := 0
		for _, set := range []bool{len(t.Alert) > 0, t.Schedule != "", t.Manual} {
			if set {
				n++
			}
		}
		if n != 1 {
			p(at, "a trigger is exactly one of alert, schedule, manual")
		}
		if t.Schedule != "" {
			if strings.Contains(t.Schedule, "TZ=") {
				p(at.Add("schedule"), "give the time zone in tz, not in the schedule")
			} else if _, err := cron.ParseStandard(t.Schedule); err != nil {
				p(at.Add("schedule"), "cron %q: %v", t.Schedule, err)
			}
		}
		if t.TZ != "" {
			if _, err := time.LoadLocation(t.TZ); err != nil {
				p(at.Add("tz"), "unknown time zone %q", t.TZ)
			}
		}
	}
	inputs := map[string]bool{}
	for i, in := range pb.Inputs {
		if in.Name == "" || inputs[in.Name] {
			p(configfile.Path{"inputs", i, "name"}, "input name %q is empty or used twice", in.Name)
		}
		inputs[in.Name] = true
	}
	if len(pb.Steps) == 0 {
		p(configfile.Path{"steps"}, "a playbook needs at least one step")
	}
	names := map[string]configfile.Path{}
	ordinary := map[string]bool{} // the steps of the success path
	inSteps := true
	count := 0
	var walk func(steps []Step, at configfile.Path, depth int)
	walk = func(steps []Step, at configfile.Path, depth int) {
		for i := range steps {
			s := &steps[i]
			sat := at.Add(i)
			if count++; count > maxSteps {
				if count == maxSteps+1 {
					p(sat, "more than %d steps", maxSteps)
				}
				return
			}
			if !nameRE.MatchString(s.Name) {
				p(sat.Add("name"), "step name %q must be lower-case letters, digits and dashes", s.Name)
			} else if first, dup := names[s.Name]; dup {
				p(sat.Add("name"), "step name %q is used twice (first at %s)", s.Name, first)
			} else {
				names[s.Name] = sat
				ordinary[s.Name] = inSteps
			}
			kinds := s.kinds
			if len(s.Parallel) > 0 {
				kinds++
			}
			if kinds != 1 {
				p(sat, "a step is exactly one of %s", stepKeys())
			}
			if s.spec != nil && s.kinds == 1 {
				ps = append(ps, s.spec.Validate(fileEnv, sat.Add(s.kind.Name))...)
			}
			if s.Timeout < 0 {
				p(sat.Add("timeout"), "must not be negative")
			}
			if len(s.Parallel) > 0 {
				if depth >= 3 {
					p(sat.Add("parallel"), "parallel groups nested deeper than 3")
					continue
				}
				walk(s.Parallel, sat.Add("parallel"), depth+1)
			}
		}
	}
	walk(pb.Steps, configfile.Path{"steps"}, 0)
	inSteps = false
	walk(pb.Recovery, configfile.Path{"recovery"}, 0)
	ps = append(ps, pb.checkFailures(names, ordinary)...)
	return ps
}

// RecoveryOnly reports whether the step named is one that runs only when
// another fails (a step of the recovery list): the runner never runs it
// on the success path.
func (pb *Playbook) RecoveryOnly(name string) bool {
	var in func([]Step) bool
	in = func(steps []Step) bool {
		for i := range steps {
			if steps[i].Name == name || in(steps[i].Parallel) {
				return true
			}
		}
		return false
	}
	return in(pb.Recovery) || pb.failureTargets()[name]
}

// failureTargets are the names every on_failure gives (the playbook's
// and its steps').
func (pb *Playbook) failureTargets() map[string]bool {
	out := map[string]bool{}
	var walk func([]Step)
	walk = func(steps []Step) {
		for _, s := range steps {
			switch s.OnFailure {
			case "", "abort", "continue":
			default:
				out[s.OnFailure] = true
			}
			walk(s.Parallel)
		}
	}
	walk(pb.Steps)
	walk(pb.Recovery)
	if pb.OnFailure != "" {
		out[pb.OnFailure] = true
	}
	return out
}

// checkFailures resolves every on_failure to a step of the recovery
// list, refuses recovery steps nothing names, and refuses chains of
// recovery steps that loop.
func (pb *Playbook) checkFailures(names map[string]configfile.Path, ordinary map[string]bool) []configfile.Problem {
	var ps []configfile.Problem
	next := map[string]string{}
	target := func(at configfile.Path, from, name string) bool {
		if _, ok := names[name]; !ok {
			ps = append(ps, configfile.At(at, "no step named %q", name))
			return false
		}
		if ordinary[name] {
			ps = append(ps, configfile.At(at, "step %q runs on failure of %s, so it belongs under recovery:, not steps: (there it would also run on the success path)", name, from))
			return false
		}
		return true
	}
	var walk func(steps []Step)
	walk = func(steps []Step) {
		for _, s := range steps {
			switch s.OnFailure {
			case "", "abort", "continue":
			default:
				if target(names[s.Name].Add("on_failure"), "step "+strconv.Quote(s.Name), s.OnFailure) {
					next[s.Name] = s.OnFailure
				}
			}
			walk(s.Parallel)
		}
	}
	walk(pb.Steps)
	walk(pb.Recovery)
	if pb.OnFailure != "" {
		target(configfile.Path{"on_failure"}, "the playbook", pb.OnFailure)
	}
	targets := pb.failureTargets()
	for i, s := range pb.Recovery {
		if !targets[s.Name] && nameRE.MatchString(s.Name) {
			ps = append(ps, configfile.At(configfile.Path{"recovery", i, "name"}, "recovery step %q is named by no on_failure: it would never run", s.Name))
		}
	}
	inCycle := map[string]bool{} // each cycle is reported once, at the first of its steps reached
	for _, start := range slices.Sorted(maps.Keys(next)) {
		seen := map[string]bool{}
		for cur := start; cur != "" && !inCycle[cur]; cur = next[cur] {
			if seen[cur] {
				ps = append(ps, configfile.At(names[cur].Add("on_failure"), "on_failure of step %q leads back to step %q: a cycle", cur, cur))
				for c := cur; !inCycle[c]; c = next[c] {
					inCycle[c] = true
				}
				break
			}
			seen[cur] = true
		}
	}
	return ps
}
