package step

import "slices"

// Kind is one kind of step, registered once in kinds: a playbook step
// names it by its key, the step's YAML decodes into New's spec (its
// Validate checks it, its Run runs it), and the runner reads the rest
// from here.
type Kind struct {
	// Name is the step's key in a playbook ("notify", "wait_for", ...).
	Name string
	// Doc says in a sentence what a step of the kind does.
	Doc string
	// New returns an empty spec of the kind for a step to decode into.
	New func() Spec
	// DrillSafe: the kind may act during a drill when the step does not
	// say (only notifying and waiting may).
	DrillSafe bool
	// Waits, set for the kinds that wait for people (their Run returns
	// ErrManual), says on what: the role that may approve, or the items
	// to tick off.
	Waits func(Spec) (role string, items []string)
}

// Manual reports whether steps of the kind wait for people: their
// default timeout is longer, and the run waits until they are answered.
func (k Kind) Manual() bool { return k.Waits != nil }

// kinds is the one table of step kinds, in the order messages list them.
var kinds = [...]Kind{
	{Name: "notify", Doc: "Tells an alerting receiver a text.", DrillSafe: true,
		New: func() Spec { return new(Notify) }},
	{Name: "http", Doc: "Calls an API and checks the answer's status.",
		New: func() Spec { return new(HTTP) }},
	{Name: "exec", Doc: "Runs a command the collector allows, without a shell.",
		New: func() Spec { return new(Exec) }},
	{Name: "wait_for", Doc: "Waits until a PromQL query returns a series.", DrillSafe: true,
		New: func() Spec { return new(WaitFor) }},
	{Name: "approval", Doc: "Waits until a user with the role approves.", DrillSafe: true,
		New:   func() Spec { return new(Approval) },
		Waits: func(s Spec) (string, []string) { return s.(*Approval).Role, nil }},
	{Name: "checklist", Doc: "Waits until people tick off every item.", DrillSafe: true,
		New:   func() Spec { return new(Checklist) },
		Waits: func(s Spec) (string, []string) { return "", s.(*Checklist).Items }},
}

// Kinds returns every step kind, in the table's order.
func Kinds() []Kind { return slices.Clone(kinds[:]) }
