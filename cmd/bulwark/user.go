package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// runUser is `bulwark user hash-password`: it reads a password from the
// first line of stdin and prints its argon2id hash for users[].password_hash.
func runUser(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, err := verbFlags(args, "user hash-password", "printf '%s\\n' PASSWORD | bulwark user hash-password", stdout, stderr)
	if err != nil {
		return err
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("user hash-password: the password is read from stdin, never from the command line")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("user hash-password: read stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	h, err := auth.HashPassword(pw, auth.DefaultArgon2())
	if err != nil {
		return fmt.Errorf("user hash-password: %w", err)
	}
	fmt.Fprintln(stdout, h)
	return nil
}
