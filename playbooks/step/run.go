package step

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// Data is what a step's templates see.
type Data struct {
	Inputs map[string]string // the run's inputs
	Alert  map[string]string // the labels of the alert that started the run (may be empty)
	Run    map[string]string // id, playbook, started
	Drill  string            // the drill's id, "" in production
	Step   string            // the step's name
	// Resumed is set when a run takes up a manual step again after a
	// restart: what was asked is not asked twice.
	Resumed bool
	// Version is the run's version while this step waits: an approval
	// asked at it must be answered at it.
	Version int64
}

// Question is what an approval asks of people through a receiver.
type Question struct {
	Run, Playbook, Step, Prompt, Role, Drill string
	// Version is the run's version the answer must name (see runner.Run).
	Version int64
}

// Runtime is what a running step may use; the runner provides it.
type Runtime struct {
	// Notify delivers text to the named alerting receiver.
	Notify func(ctx context.Context, receiver, text string) error
	// Query evaluates PromQL now and returns how many series it gave.
	Query func(ctx context.Context, q string) (int, error)
	// Env is the configuration the step was checked against: exec's
	// allow-list is enforced again at run time.
	Env *Env
	// ReadSecret reads a secret file (http header_files).
	ReadSecret func(path string) (string, error)
	// Ask puts an approval's question to a receiver (optional).
	Ask func(ctx context.Context, receiver string, q Question) error
}

// Result is what a step did, for the run's timeline.
type Result struct {
	// Output is an excerpt of what the step produced (at most
	// MaxOutput bytes).
	Output string
}

// MaxOutput bounds the excerpt a step keeps of its output.
const MaxOutput = 4 << 10

// ErrManual is returned by the kinds that wait for people (approval,
// checklist): the runner records them as waiting and resumes the run
// when they answer.
var ErrManual = errors.New("step: waits for people")

// Runner is a spec that can run.
type Runner interface {
	Run(ctx context.Context, rt *Runtime, d Data) (Result, error)
}

// render executes the template s over d (missing keys are errors).
func render(s string, d Data) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	t, err := template.New("step").Option("missingkey=error").Parse(s)
	if err != nil {
		return "", fmt.Errorf("template: %s", trimTemplateErr(err))
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("template: %s", trimTemplateErr(err))
	}
	return b.String(), nil
}

// excerpt keeps the first MaxOutput bytes of b.
func excerpt(b []byte) string {
	if len(b) > MaxOutput {
		return string(b[:MaxOutput]) + fmt.Sprintf("... (%d bytes more)", len(b)-MaxOutput)
	}
	return string(b)
}
