package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// Every command and subcommand prints its usage for --help and exits 0
// (main exits 0 on flag.ErrHelp); issue 8.
func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"},
		{"collector", "--help"}, {"demo", "--help"}, {"check", "-h"},
		{"attrib", "--help"}, {"attrib", "lookup", "--help"}, {"whatif", "--help"},
		{"targets", "--help"}, {"targets", "import", "--help"},
		{"zone", "--help"}, {"zone", "import", "--help"}, {"zone", "import", "gov.zone", "--help"},
		{"report", "--help"}, {"report", "dns", "--help"}, {"geo", "--help"}, {"geo", "import", "--help"},
		{"alerts", "--help"}, {"alerts", "list", "--help"}, {"alerts", "ack", "--help"},
		{"silence", "--help"}, {"silence", "add", "--help"}, {"silence", "list", "-h"}, {"silence", "expire", "--help"},
		{"playbook", "--help"}, {"playbook", "run", "--help"}, {"playbook", "tick", "-h"}, {"playbook", "export", "--help"},
		{"audit", "--help"}, {"audit", "export", "--help"}, {"verify", "--help"},
		{"backup", "--help"}, {"restore", "-h"}, {"drill", "--help"}, {"drill", "start", "--help"}, {"drill", "report", "-h"}, {"drill", "stop", "--help"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(strings.ToLower(out.String()), "usage") {
			t.Errorf("%v printed no usage to stdout: %q (stderr %q)", args, out.String(), errb.String())
		}
	}
}

// Flags work after and before the positional arguments: `zone import
// --data D FILE` read --data as the file before (issue 8).
func TestFlagsAfterArguments(t *testing.T) {
	for _, order := range [][]string{
		{"zone", "import", "--data", "D", dotgovZone, "--home", "US"},
		{"zone", "import", dotgovZone, "--data", "D", "--home", "US"},
	} {
		data := t.TempDir()
		args := append([]string(nil), order...)
		for i, a := range args {
			if a == "D" {
				args[i] = data
			}
		}
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		if !strings.Contains(out.String(), "zone gov. exported") {
			t.Fatalf("%v: %s", order, out.String())
		}
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"zone", "import", "--data", t.TempDir()}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "want 1 argument(s), got 0") {
		t.Fatalf("zone import without a file: %v", err)
	}
}

// whatif with an unknown provider, country or AS is an error naming near
// matches, not "0 lost" (issue 8); the token comes from --token-file or
// BULWARK_TOKEN.
func TestWhatifUnknownCut(t *testing.T) {
	cfg := collectorconfig.Default()
	cfg.DataDir = t.TempDir()
	base := liveCollector(t, cfg, map[string]auth.User{"view-token": {ID: "vera", Role: auth.RoleViewer}})
	whatif := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"whatif", "--collector", base}, args...), &out, &errb)
		return out.String(), err
	}
	if _, err := whatif("--provider", "cloudflare"); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("without a token: %v", err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("view-token\n"), 0o600)
	if _, err := whatif("--token-file", tokenFile, "--provider", "nonexistent"); err == nil ||
		!strings.Contains(err.Error(), `provider "nonexistent": unknown in this cut`) {
		t.Fatalf("unknown provider: %v", err)
	}
	if _, err := whatif("--token-file", tokenFile, "--provider", "cloudflar"); err == nil ||
		!strings.Contains(err.Error(), "did you mean cloudflare") {
		t.Fatalf("near match: %v", err)
	}
	if _, err := whatif("--token-file", tokenFile, "--country", "QQ"); err == nil ||
		!strings.Contains(err.Error(), `country "QQ": unknown in this cut: not an ISO 3166 country code`) {
		t.Fatalf("unknown country: %v", err)
	}
	if _, err := whatif("--token-file", tokenFile, "--asn", "4294967000"); err == nil || !strings.Contains(err.Error(), "AS4294967000: unknown") {
		t.Fatalf("unknown AS: %v", err)
	}
	t.Setenv("BULWARK_TOKEN", "view-token")
	if out, err := whatif("--provider", "cloudflare"); err != nil || !strings.Contains(out, "cloudflare") {
		t.Fatalf("known provider with BULWARK_TOKEN: %v\n%s", err, out)
	}
}
