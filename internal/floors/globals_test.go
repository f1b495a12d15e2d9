package floors

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowedGlobals are exported package variables that may stay, each with why.
// Keys are "dir/file.go:Name" relative to the module root.
var allowedGlobals = map[string]string{}

// scalarTypes are the predeclared types whose values cannot be mutated
// through the variable by a caller that reads it.
var scalarTypes = map[string]bool{
	"bool": true, "string": true, "int": true, "int8": true, "int16": true, "int32": true,
	"int64": true, "uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"uintptr": true, "float32": true, "float64": true, "byte": true, "rune": true,
}

// No package holds state another package can change: an exported
// package-level var is a sentinel error (errors.New, fmt.Errorf), a scalar
// (a string set by -ldflags, say), or on the allowlist with a reason. A map,
// slice, array, pointer, struct, func or anything this parse cannot tell is
// refused: make it a function returning a fresh value, or unexported.
func TestNoExportedMutableGlobals(t *testing.T) {
	root := moduleRoot(t)
	seen := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path == root {
				return nil
			}
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !n.IsExported() {
						continue
					}
					var val ast.Expr
					if i < len(vs.Values) {
						val = vs.Values[i]
					}
					key := rel + ":" + n.Name
					seen[key] = true
					what := mutableKind(vs.Type, val)
					if what == "" {
						continue
					}
					if _, ok := allowedGlobals[key]; ok {
						continue
					}
					t.Errorf("%s: exported package var %s holds %s, which any package can change: make it a func returning a fresh value, or unexported (or allowlist it with a reason)",
						fset.Position(n.Pos()), n.Name, what)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range allowedGlobals {
		if !seen[key] {
			t.Errorf("allowlist entry %s names no exported var: drop it", key)
		}
	}
}

// mutableKind says what a var of this type and value holds, "" when it is
// a scalar or a sentinel error.
func mutableKind(typ, val ast.Expr) string {
	if typ != nil {
		switch tt := typ.(type) {
		case *ast.Ident:
			if scalarTypes[tt.Name] {
				return ""
			}
			if tt.Name == "error" && isErrorCall(val) {
				return ""
			}
		case *ast.MapType:
			return "a map"
		case *ast.ArrayType:
			if tt.Len == nil {
				return "a slice"
			}
			return "an array"
		case *ast.StarExpr:
			return "a pointer"
		case *ast.StructType:
			return "a struct"
		case *ast.FuncType:
			return "a func"
		case *ast.ChanType:
			return "a channel"
		}
		if val == nil {
			return "a value of type " + exprString(typ)
		}
	}
	if val == nil {
		return "a value of unknown type"
	}
	if isErrorCall(val) || isConstExpr(val) {
		return ""
	}
	switch v := ast.Unparen(val).(type) {
	case *ast.CompositeLit:
		switch v.Type.(type) {
		case *ast.MapType:
			return "a map"
		case *ast.ArrayType:
			return "a slice or array"
		}
		return "a struct (or other composite)"
	case *ast.UnaryExpr:
		if v.Op == token.AND {
			return "a pointer"
		}
	case *ast.FuncLit:
		return "a func"
	}
	return "a value this parse cannot tell is a scalar"
}

// exprString names a type expression.
func exprString(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.SelectorExpr:
		return exprString(t.X) + "." + t.Sel.Name
	}
	return "?"
}

// isErrorCall reports errors.New(...) or fmt.Errorf(...).
func isErrorCall(e ast.Expr) bool {
	c, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && (pkg.Name == "errors" && sel.Sel.Name == "New" || pkg.Name == "fmt" && sel.Sel.Name == "Errorf")
}

// isConstExpr reports a literal, or unary/binary arithmetic of literals.
func isConstExpr(e ast.Expr) bool {
	switch v := ast.Unparen(e).(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return v.Name == "true" || v.Name == "false"
	case *ast.UnaryExpr:
		return v.Op != token.AND && v.Op != token.ARROW && isConstExpr(v.X)
	case *ast.BinaryExpr:
		return isConstExpr(v.X) && isConstExpr(v.Y)
	}
	return false
}

// moduleRoot walks up from the test's directory to the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = up
	}
}

// The classifier refuses what a caller could change and lets sentinel
// errors and scalars through.
func TestMutableKind(t *testing.T) {
	for src, want := range map[string]string{
		`var X = errors.New("x")`:             "",
		`var X = fmt.Errorf("x: %w", io.EOF)`: "",
		`var X error = errors.New("x")`:       "",
		`var X = "dev"`:                       "",
		`var X = 1 << 20`:                     "",
		`var X = -1.5`:                        "",
		`var X = true`:                        "",
		`var X string`:                        "",
		`var X int64 = 4`:                     "",
		`var X = map[string]int{}`:            "a map",
		`var X map[string]int`:                "a map",
		`var X = []string{"a"}`:               "a slice or array",
		`var X []string`:                      "a slice",
		`var X [3]int`:                        "an array",
		`var X = T{A: 1}`:                     "a struct (or other composite)",
		`var X = pkg.T{}`:                     "a struct (or other composite)",
		`var X = &T{}`:                        "a pointer",
		`var X *T`:                            "a pointer",
		`var X struct{ A int }`:               "a struct",
		`var X = func() {}`:                   "a func",
		`var X func()`:                        "a func",
		`var X chan int`:                      "a channel",
		`var X T`:                             "a value of type T",
		`var X netip.Addr`:                    "a value of type netip.Addr",
		`var X = netip.MustParseAddr("::1")`:  "a value this parse cannot tell is a scalar",
		`var X = regexp.MustCompile("x")`:     "a value this parse cannot tell is a scalar",
		`var X = errors.Join(io.EOF, io.EOF)`: "a value this parse cannot tell is a scalar",
		`var X = someVar`:                     "a value this parse cannot tell is a scalar",
		`var X error = errors.Join(io.EOF)`:   "a value this parse cannot tell is a scalar",
		`var X = (map[string]int{})`:          "a map",
		`var X = "a" + "b"`:                   "",
	} {
		f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package p\n"+src+"\n", 0)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		vs := f.Decls[0].(*ast.GenDecl).Specs[0].(*ast.ValueSpec)
		var val ast.Expr
		if len(vs.Values) > 0 {
			val = vs.Values[0]
		}
		if got := mutableKind(vs.Type, val); got != want {
			t.Errorf("%s: %q, want %q", src, got, want)
		}
	}
}
