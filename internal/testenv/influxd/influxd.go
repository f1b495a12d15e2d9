// Package influxd runs a real InfluxDB 1.8.10 server on loopback for
// tests: it speaks the v2 write API and Flux, as the InfluxDB sink needs.
// .ci/install-deps builds it with `go install
// github.com/influxdata/influxdb/cmd/influxd@v1.8.10`; a missing binary
// fails the test under CI (CI=true) and skips it elsewhere.
package influxd

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bin finds influxd on PATH or in GOPATH/bin.
func Bin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("influxd"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	if p := filepath.Join(gopath, "bin", "influxd"); exists(p) {
		return p
	}
	msg := "influxd not found: go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10 (or run make deps)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// FreeAddr is a loopback address with a free port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs influxd on addr with its data in dir, creates the database
// "bulwark" (bucket "bulwark/autogen"), and stops it when stop is called
// or the test ends.
func Start(t testing.TB, addr, dir string) (stop func()) {
	t.Helper()
	cmd := exec.Command(Bin(t))
	cmd.Env = append(os.Environ(), "INFLUXDB_HTTP_BIND_ADDRESS="+addr, "INFLUXDB_BIND_ADDRESS="+FreeAddr(t),
		"INFLUXDB_HTTP_FLUX_ENABLED=true", "INFLUXDB_REPORTING_DISABLED=true", "INFLUXDB_HTTP_LOG_ENABLED=false",
		"INFLUXDB_META_DIR="+filepath.Join(dir, "meta"), "INFLUXDB_DATA_DIR="+filepath.Join(dir, "data"),
		"INFLUXDB_DATA_WAL_DIR="+filepath.Join(dir, "wal"), "INFLUXDB_DATA_QUERY_LOG_ENABLED=false")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	stop = func() {
		if !done {
			done = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post("http://"+addr+"/query", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"q": {"CREATE DATABASE bulwark"}}.Encode()))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return stop
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("influxd on %s did not start: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
