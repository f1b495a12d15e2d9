package playbooks

import (
	"errors"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// stepFields are a step's keys besides its kind.
type stepFields struct {
	Name      string              `yaml:"name"`
	Parallel  []Step              `yaml:"parallel"`
	Timeout   configfile.Duration `yaml:"timeout"`
	OnFailure string              `yaml:"on_failure"`
	DrillSafe *bool               `yaml:"drill_safe"`
}

// stepType is the shape a step decodes into: its fields, and one pointer
// per kind of step.Kinds, keyed by the kind's name. It is made from the
// table, so a kind registered there is a key here.
func stepType(kinds []step.Kind) reflect.Type {
	fields := []reflect.StructField{{Name: "Fields", Type: reflect.TypeFor[stepFields](), Tag: `yaml:",inline"`}}
	for i, k := range kinds {
		fields = append(fields, reflect.StructField{Name: "K" + strconv.Itoa(i), Type: reflect.TypeOf(k.New()), Tag: reflect.StructTag(`yaml:"` + k.Name + `"`)})
	}
	return reflect.StructOf(fields)
}

// UnmarshalYAML decodes a step strictly (the function form keeps the
// decoder's known-fields check): an unknown key, in the step or in its
// kind's spec, is an error at its line.
func (s *Step) UnmarshalYAML(unmarshal func(any) error) error {
	kinds := step.Kinds()
	t := stepType(kinds)
	v := reflect.New(t)
	if err := unmarshal(v.Interface()); err != nil {
		return renameType(err, t.String(), "playbooks.Step")
	}
	f := v.Elem().Field(0).Interface().(stepFields)
	*s = Step{Name: f.Name, Parallel: f.Parallel, Timeout: f.Timeout, OnFailure: f.OnFailure, DrillSafe: f.DrillSafe}
	for i, k := range kinds {
		fv := v.Elem().Field(i + 1)
		if fv.IsNil() {
			continue
		}
		if s.kinds++; s.kinds == 1 {
			s.kind, s.spec = k, fv.Interface().(step.Spec)
		}
	}
	return nil
}

// renameType names the step's made-up type as Step in decoding errors.
func renameType(err error, from, to string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	out := &yaml.TypeError{Errors: make([]string, len(te.Errors))}
	for i, e := range te.Errors {
		out.Errors[i] = strings.ReplaceAll(e, from, to)
	}
	return out
}

// stepKeys lists what a step may be: its kinds, or a parallel group.
func stepKeys() string {
	var names []string
	for _, k := range step.Kinds() {
		names = append(names, k.Name)
	}
	return strings.Join(append(names, "parallel"), ", ")
}
