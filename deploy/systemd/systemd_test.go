// Package systemd holds the systemd units of the collector and the agent;
// this test verifies them with systemd-analyze and keeps their exposure
// score under 2.0.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

// TestUnits runs `systemd-analyze verify` on each unit (its ExecStart
// pointed at binaries built from this tree) and `systemd-analyze
// security --offline`, whose exposure must stay under 2.0.
func TestUnits(t *testing.T) {
	sa := testbin.Need(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	for unit, cmd := range map[string]string{"bulwark.service": "bulwark", "bulwark-agent.service": "bulwark-agent"} {
		bin := filepath.Join(dir, cmd)
		if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/", "CapabilityBoundingSet=\n",
			"PrivateTmp=yes", "ProtectHome=yes", "RestrictAddressFamilies=", "SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "EnvironmentFile="} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q", unit, want)
			}
		}
		local := filepath.Join(dir, unit)
		os.WriteFile(local, []byte(strings.ReplaceAll(string(b), "/usr/bin/"+cmd+" ", bin+" ")), 0o644)
		if out, err := exec.Command(sa, "verify", "--man=no", local).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
		out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", local).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("systemd-analyze security %s: %v\n%s", unit, err, out)
		}
		if score, _ := strconv.ParseFloat(string(m[1]), 64); score >= 2.0 {
			t.Errorf("%s: exposure %.1f, want under 2.0", unit, score)
		} else {
			t.Logf("%s: systemd-analyze security exposure %.1f", unit, score)
		}
	}
}
