package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

func TestUserHashPassword(t *testing.T) {
	var out bytes.Buffer
	if err := runUser([]string{"hash-password"}, strings.NewReader("correct horse\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("hash %q", h)
	}
	if err := auth.VerifyPassword(h, "correct horse"); err != nil {
		t.Errorf("round trip: %v", err)
	}
	if err := auth.VerifyPassword(h, "correct horse\n"); !errors.Is(err, auth.ErrBadPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if err := runUser([]string{"hash-password", "secret-on-argv"}, strings.NewReader(""), io.Discard, io.Discard); err == nil {
		t.Error("a password on the command line accepted")
	}
	if err := runUser([]string{"hash-password"}, strings.NewReader("short\n"), io.Discard, io.Discard); err == nil {
		t.Error("a 5-byte password hashed")
	}
}
