// Package configfile loads strict YAML files and reports every problem as
// "file:line: sentence", the shape an operator can act on.
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one validation failure at a path inside the document, such as
// Path{"targets", 2, "schedule"}.
type Problem struct {
	Path Path
	Msg  string
}

// Path addresses a node: strings are mapping keys, ints are sequence indexes.
type Path []any

// Add is p followed by elems (p itself unchanged).
func (p Path) Add(elems ...any) Path { return append(slices.Clone(p), elems...) }

func (p Path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch v := e.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// At returns a Problem at path p with a formatted message.
func At(p Path, format string, args ...any) Problem {
	return Problem{Path: append(Path(nil), p...), Msg: fmt.Sprintf(format, args...)}
}

// Validator is implemented by config structs; Validate returns every problem
// found, not only the first.
type Validator interface {
	Validate() []Problem
}

// Error lists the problems of one file, each with its line.
type Error struct {
	File     string
	Problems []LineProblem
}

// LineProblem is a Problem resolved to a line of the file.
type LineProblem struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = fmt.Sprintf("%s:%d: %s", e.File, p.Line, p.Msg)
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads path and decodes it strictly into v (see Load).
func LoadFile(path string, v Validator) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return Load(path, b, v)
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)
var unknownRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// Load decodes b strictly into v: unknown keys, type errors and an empty
// document are errors. Then it validates v and maps each problem to its line.
// name is the file name used in messages.
func Load(name string, b []byte, v Validator) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{File: name, Problems: []LineProblem{{Line: 1, Msg: "the file is empty"}}}
		}
		return decodeError(name, err)
	}
	probs := v.Validate()
	if len(probs) == 0 {
		return nil
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root) // already decoded once without error
	e := &Error{File: name}
	for _, p := range probs {
		msg := p.Msg
		if len(p.Path) > 0 {
			msg = p.Path.String() + ": " + msg
		}
		e.Problems = append(e.Problems, LineProblem{Line: lineOf(&root, p.Path), Msg: msg})
	}
	return e
}

func decodeError(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		e := &Error{File: name}
		for _, s := range te.Errors {
			line, msg := 0, s
			if m := lineRE.FindStringSubmatch(s); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = m[2]
			}
			if m := unknownRE.FindStringSubmatch(msg); m != nil {
				msg = fmt.Sprintf("unknown key %q", m[1])
			}
			e.Problems = append(e.Problems, LineProblem{Line: line, Msg: msg})
		}
		return e
	}
	// Syntax errors read "yaml: line N: ...".
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRE.FindStringSubmatch(s); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: name, Problems: []LineProblem{{Line: line, Msg: "invalid YAML: " + m[2]}}}
	}
	return &Error{File: name, Problems: []LineProblem{{Line: 1, Msg: "invalid YAML: " + s}}}
}

// lineOf finds the line of the node at path, or of its deepest existing
// ancestor when the key is absent (a missing field is reported where its
// parent starts).
func lineOf(root *yaml.Node, path Path) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, e := range path {
		var next *yaml.Node
		switch k := e.(type) {
		case int:
			if n.Kind == yaml.SequenceNode && k >= 0 && k < len(n.Content) {
				next, line = n.Content[k], n.Content[k].Line
			}
		default:
			key := fmt.Sprint(k)
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == key {
						next, line = n.Content[i+1], n.Content[i].Line
						break
					}
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// Secret reads a secret from a file (trailing newline removed) or from the
// named environment variable; exactly one of the two may be set.
func Secret(file, env string) (string, error) {
	switch {
	case file != "" && env != "":
		return "", errors.New("set only one of a secret file and an environment variable")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("secret file %s is empty", file)
		}
		return s, nil
	case env != "":
		s := os.Getenv(env)
		if s == "" {
			return "", fmt.Errorf("environment variable %s is empty or unset", env)
		}
		return s, nil
	}
	return "", nil
}
