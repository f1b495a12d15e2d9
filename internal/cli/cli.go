// Package cli holds what both binaries' commands share: flags that may
// come before or after the arguments, and --help that prints the usage to
// stdout and exits 0.
package cli

import (
	"flag"
	"fmt"
	"io"
	"slices"
)

// NewFlags returns a flag set for a command whose usage line is usage;
// errors go to stderr.
func NewFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// IsHelp reports whether a is a request for help.
func IsHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "help" }

// Help prints fs's usage to stdout and returns flag.ErrHelp, on which the
// command exits 0.
func Help(fs *flag.FlagSet, stdout io.Writer) error {
	fs.SetOutput(stdout)
	fs.Usage()
	return flag.ErrHelp
}

// Parse parses flags before and after the positional arguments, as
// operators type them, and returns the positional ones; "--" ends flags.
// Asking for help prints the usage to stdout and returns flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	end := slices.Index(args, "--")
	if end < 0 {
		end = len(args)
	}
	if slices.ContainsFunc(args[:end], func(a string) bool { return a != "help" && IsHelp(a) }) {
		return nil, Help(fs, stdout)
	}
	var pos []string
	cur := args
	for len(cur) > 0 {
		if err := fs.Parse(cur); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(cur) - len(rest); used > 0 && cur[used-1] == "--" {
			return append(pos, rest...), nil // everything after "--" is positional
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		cur = rest[1:]
	}
	return pos, nil
}

// ParseN is Parse for commands that take exactly n positional arguments.
func ParseN(fs *flag.FlagSet, args []string, n int, stdout io.Writer) ([]string, error) {
	pos, err := Parse(fs, args, stdout)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		if n == 0 {
			return nil, fmt.Errorf("%s: unexpected argument %q (see %s --help)", fs.Name(), pos[0], fs.Name())
		}
		return nil, fmt.Errorf("%s: want %d argument(s), got %d (see %s --help)", fs.Name(), n, len(pos), fs.Name())
	}
	return pos, nil
}
