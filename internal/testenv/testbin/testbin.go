// Package testbin finds the external programs integration tests run
// (prometheus, promtool, ...). Under CI (CI=true) a missing program fails
// the test; elsewhere it skips with the command that installs it.
package testbin

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the program name, or fails (CI) or skips the test.
func Need(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found: install it with `apt-get install " + pkg + "` or run `make deps`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// NeedPython returns Debian's Python interpreter when it can import module
// (packaged as pkg), or fails (CI) or skips the test. Debian's own
// interpreter, not the first python3 on PATH: a version manager's has not
// the Debian packages.
func NeedPython(t testing.TB, module, pkg string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import "+module).Run(); err == nil {
		return py
	}
	msg := py + " cannot import " + module + ": install it with `apt-get install " + pkg + "` or run `make deps`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
