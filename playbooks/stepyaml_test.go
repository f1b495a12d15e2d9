package playbooks

import (
	"testing"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/playbooks/step"
)

// Every kind of step's table is a key a step may have, decoded into that
// kind's spec: registering a kind there is all a playbook needs.
func TestEveryKindDecodes(t *testing.T) {
	for _, k := range step.Kinds() {
		pb := &Playbook{env: env()}
		doc := "name: x\nowner: y\ntriggers: [{manual: true}]\nsteps:\n  - name: s\n    " + k.Name + ": {}\n"
		err := configfile.Load("k.yml", []byte(doc), pb)
		if len(pb.Steps) != 1 {
			t.Fatalf("%s: %v", k.Name, err)
		}
		s := &pb.Steps[0]
		if s.Kind().Name != k.Name || s.Spec() == nil {
			t.Errorf("%s: decoded as kind %q, spec %T", k.Name, s.Kind().Name, s.Spec())
		}
	}
}

// Decoding stays strict under the step: an unknown key inside a kind's
// spec, or a step that is no mapping, is refused at its line.
func TestStepDecodingStrict(t *testing.T) {
	for doc, want := range map[string]string{
		"  - name: s\n    notify: {receiver: soc, text: hi, colour: red}\n": `s.yml:6: unknown key "colour"`,
		"  - name: s\n    checklist:\n      items: [a]\n      owner: me\n":  `s.yml:8: unknown key "owner"`,
		"  - just-a-name\n": "s.yml:5: cannot unmarshal !!str `just-a-...` into playbooks.Step",
		"  - name: s\n    parallel:\n      - name: t\n        reboot: {}\n": `s.yml:8: unknown key "reboot"`,
		"  - name: s\n    wait_for: {query: up, every: soon}\n":             `s.yml:6: invalid duration "soon"`,
	} {
		pb := &Playbook{env: env()}
		err := configfile.Load("s.yml", []byte("name: x\nowner: y\ntriggers: [{manual: true}]\nsteps:\n"+doc), pb)
		if err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", doc, err, want)
		}
	}
}
