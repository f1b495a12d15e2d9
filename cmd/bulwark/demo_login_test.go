package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// The demo's documented console login: demo-operator with the password
// written beside the operator token.
func TestDemoLogin(t *testing.T) {
	dir := t.TempDir()
	users := auth.NewUsers()
	if err := demoLogin(dir, users); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, demoOperatorPassword))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, demoOperatorPassword)); fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v", fi.Mode().Perm())
	}
	u, _, err := users.CheckPassword("demo-operator", strings.TrimSpace(string(b)))
	if err != nil || u.Role != auth.RoleOperator {
		t.Errorf("demo login: %v %v", u, err)
	}
}
