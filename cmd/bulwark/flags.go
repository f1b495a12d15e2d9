package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/config"
)

// newFlags returns a flag set for a command whose usage line is usage:
// errors go to stderr, --help to stdout.
func newFlags(name, usage string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	_ = stdout
	return fs
}

// verbFlags starts a two-word command such as "zone import": args must
// begin with its verb (or ask for help).
func verbFlags(args []string, name, usage string, stdout, stderr io.Writer) (*flag.FlagSet, error) {
	fs := newFlags(name, usage, stdout, stderr)
	_, verb, _ := strings.Cut(name, " ")
	if len(args) == 0 || args[0] != verb {
		if len(args) > 0 && isHelp(args[0]) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
		return nil, errors.New("usage: " + usage)
	}
	return fs, nil
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "help" }

// parseArgs parses flags before and after the positional arguments, as
// operators type them, and returns the positional ones; "--" ends flags.
// Asking for help prints the usage to stdout and returns flag.ErrHelp,
// which the command exits 0 on.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	end := slices.Index(args, "--")
	if end < 0 {
		end = len(args)
	}
	if slices.ContainsFunc(args[:end], func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		fs.SetOutput(stdout)
		fs.Usage()
		return nil, flag.ErrHelp
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

// parseFlags is parseArgs for commands that take exactly n positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, n int, stdout io.Writer) ([]string, error) {
	pos, err := parseArgs(fs, args, stdout)
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

// tokenFlag registers --token-file; apiToken reads it, or BULWARK_TOKEN.
func tokenFlag(fs *flag.FlagSet) *string {
	return fs.String("token-file", "", "`file` holding your API token (default: $BULWARK_TOKEN)")
}

// apiToken is the token to call the API with: from file, else from the
// BULWARK_TOKEN environment variable, else none.
func apiToken(file string) (string, error) {
	if file != "" {
		tok, err := config.Secret(file, "")
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		return tok, nil
	}
	return strings.TrimSpace(os.Getenv("BULWARK_TOKEN")), nil
}
