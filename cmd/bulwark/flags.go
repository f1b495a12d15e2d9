package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/cli"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// newFlags returns a flag set for a command whose usage line is usage.
func newFlags(name, usage string, _, stderr io.Writer) *flag.FlagSet {
	return cli.NewFlags(name, usage, stderr)
}

// verbFlags starts a two-word command such as "zone import": args must
// begin with its verb (or ask for help).
func verbFlags(args []string, name, usage string, stdout, stderr io.Writer) (*flag.FlagSet, error) {
	fs := cli.NewFlags(name, usage, stderr)
	_, verb, _ := strings.Cut(name, " ")
	if len(args) == 0 || args[0] != verb {
		if len(args) > 0 && cli.IsHelp(args[0]) {
			return nil, cli.Help(fs, stdout)
		}
		return nil, errors.New("usage: " + usage)
	}
	return fs, nil
}

// parseArgs parses flags anywhere among the arguments (see cli.Parse).
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	return cli.Parse(fs, args, stdout)
}

// parseFlags is parseArgs for commands that take exactly n positional arguments.
func parseFlags(fs *flag.FlagSet, args []string, n int, stdout io.Writer) ([]string, error) {
	return cli.ParseN(fs, args, n, stdout)
}

// tokenFlag registers --token-file; apiToken reads it, or BULWARK_TOKEN.
func tokenFlag(fs *flag.FlagSet) *string {
	return fs.String("token-file", "", "`file` holding your API token (default: $BULWARK_TOKEN)")
}

// apiToken is the token to call the API with: from file, else from the
// BULWARK_TOKEN environment variable, else none.
func apiToken(file string) (string, error) {
	if file != "" {
		tok, err := configfile.Secret(file, "")
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		return tok, nil
	}
	return strings.TrimSpace(os.Getenv("BULWARK_TOKEN")), nil
}
