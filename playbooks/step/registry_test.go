package step

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Every kind in the table is whole: a key, a sentence, a fresh spec of its
// own type that validates and runs, and Waits exactly when its Run waits
// for people. A kind half-registered fails here.
func TestKindsComplete(t *testing.T) {
	key := regexp.MustCompile(`^[a-z][a-z_]*$`)
	names, types := map[string]bool{}, map[reflect.Type]string{}
	for _, k := range Kinds() {
		if !key.MatchString(k.Name) || k.Name == "parallel" || names[k.Name] {
			t.Errorf("kind %q: its name must be a lower-case key, not parallel, and unique", k.Name)
		}
		names[k.Name] = true
		if strings.TrimSpace(k.Doc) == "" {
			t.Errorf("kind %s has no doc", k.Name)
		}
		if k.New == nil {
			t.Errorf("kind %s has no New: nothing to decode its steps into", k.Name)
			continue
		}
		a, b := k.New(), k.New()
		if a == nil || reflect.ValueOf(a).IsNil() || reflect.TypeOf(a).Kind() != reflect.Pointer {
			t.Errorf("kind %s: New returns %#v, want a pointer to an empty spec", k.Name, a)
			continue
		}
		if a == b {
			t.Errorf("kind %s: New returns the same spec twice", k.Name)
		}
		if other, dup := types[reflect.TypeOf(a)]; dup {
			t.Errorf("kinds %s and %s share the spec type %T", other, k.Name, a)
		}
		types[reflect.TypeOf(a)] = k.Name
		a.Validate(&Env{}, configfile.Path{k.Name}) // an empty spec is checked, not a panic
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := a.Run(ctx, &Runtime{}, Data{})
		cancel()
		if errors.Is(err, ErrManual) != k.Manual() {
			t.Errorf("kind %s: Run says %v, but Manual is %v: set Waits exactly for the kinds that wait for people", k.Name, err, k.Manual())
		}
		if k.Manual() {
			k.Waits(a) // reads its own spec type
		}
	}
	if Kinds()[0].Name = "mutated"; Kinds()[0].Name == "mutated" {
		t.Error("Kinds hands out the table itself")
	}
	// Every spec type of the package (a type with a Validate and a Run
	// method) is a kind of the table: none was written and forgotten.
	methods := map[string]map[string]bool{}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil {
				continue
			}
			rt := fd.Recv.List[0].Type
			if st, ok := rt.(*ast.StarExpr); ok {
				rt = st.X
			}
			if id, ok := rt.(*ast.Ident); ok {
				if methods[id.Name] == nil {
					methods[id.Name] = map[string]bool{}
				}
				methods[id.Name][fd.Name.Name] = true
			}
		}
	}
	registered := map[string]bool{}
	for typ := range types {
		registered[typ.Elem().Name()] = true
	}
	for typ, ms := range methods {
		if ms["Validate"] && ms["Run"] && !registered[typ] {
			t.Errorf("%s validates and runs but is no kind in registry.go's table", typ)
		}
	}
	if len(registered) < 6 {
		t.Errorf("only %d kinds registered", len(registered))
	}
}
