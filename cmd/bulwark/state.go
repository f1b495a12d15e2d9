package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// runState: bulwark state migrate --from DRIVER:SOURCE --to DRIVER:SOURCE
func runState(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "bulwark state migrate --from sqlite:PATH --to postgres:DSN [--dsn-file FILE] [--replace]"
	fs, err := verbFlags(args, "state migrate", usage, stdout, stderr)
	if err != nil {
		return err
	}
	from := fs.String("from", "", "the stopped installation's state: sqlite:`PATH` or postgres:DSN")
	to := fs.String("to", "", "where it goes: postgres:`DSN` or sqlite:PATH")
	dsnFile := fs.String("dsn-file", "", "`file` holding the DSN of a bare \"postgres\" in --from or --to (keeps a password off the command line)")
	replace := fs.Bool("replace", false, "empty the target's tables first (refused when it holds any row, without this)")
	if _, err := parseFlags(fs, args[1:], 0, stdout); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		return errors.New("usage: " + usage)
	}
	src, err := stateOptions(*from, *dsnFile, true)
	if err != nil {
		return fmt.Errorf("state migrate: --from: %w", err)
	}
	dst, err := stateOptions(*to, *dsnFile, false)
	if err != nil {
		return fmt.Errorf("state migrate: --to: %w", err)
	}
	fromDB, err := state.New(ctx, src)
	if err != nil {
		return fmt.Errorf("state migrate: %w", err)
	}
	defer fromDB.Close()
	toDB, err := state.New(ctx, dst)
	if err != nil {
		return fmt.Errorf("state migrate: %w", err)
	}
	defer toDB.Close()
	if n, err := fromDB.VerifyAuditChain(ctx); err != nil {
		return fmt.Errorf("state migrate: the source's audit chain does not verify (%d entries), nothing copied: %w", n, err)
	}
	report, err := state.Copy(ctx, fromDB, toDB, state.CopyOptions{Replace: *replace})
	for _, t := range report {
		fmt.Fprintf(stdout, "%-17s %7d rows  sha256 %s\n", t.Table, t.Rows, t.Hash[:16])
	}
	if err != nil {
		return fmt.Errorf("state migrate: %w", err)
	}
	n, err := toDB.VerifyAuditChain(ctx)
	if err != nil {
		return fmt.Errorf("state migrate: copied, but the target's audit chain does not verify: %w", err)
	}
	fmt.Fprintf(stdout, "copied %s to %s: every table read back row by row and equal; audit chain of %d entries verifies\n",
		src.Driver, dst.Driver, n)
	return nil
}

// stateOptions reads sqlite:PATH or postgres:DSN (a bare "postgres" takes
// the DSN from dsnFile). A source SQLite file must exist: opening it would
// otherwise create an empty one.
func stateOptions(spec, dsnFile string, source bool) (state.Options, error) {
	driver, rest, _ := strings.Cut(spec, ":")
	switch driver {
	case state.SQLite:
		if rest == "" {
			return state.Options{}, errors.New("sqlite needs a path: sqlite:PATH")
		}
		if source {
			if _, err := os.Stat(rest); err != nil {
				return state.Options{}, err
			}
		}
		return state.Options{Driver: state.SQLite, Path: rest}, nil
	case state.Postgres:
		if rest == "" {
			dsn, err := configfile.Secret(dsnFile, "")
			if err != nil || dsn == "" {
				return state.Options{}, fmt.Errorf("postgres needs a DSN: postgres:DSN, or postgres with --dsn-file (%v)", err)
			}
			rest = dsn
		}
		return state.Options{Driver: state.Postgres, DSN: rest}, nil
	}
	return state.Options{}, fmt.Errorf("%q: want sqlite:PATH or postgres:DSN", spec)
}
