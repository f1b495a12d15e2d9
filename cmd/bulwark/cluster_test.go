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

// `bulwark cluster status` prints the members and leases; a collector
// alone on SQLite is the one member, holding every lease.
func TestClusterStatusCommand(t *testing.T) {
	cfg := collectorconfig.Default()
	cfg.DataDir = t.TempDir()
	cfg.Cluster.Member = "solo"
	base := liveCollector(t, cfg, map[string]auth.User{"view-token": {ID: "vera", Role: auth.RoleViewer}})
	tok := filepath.Join(t.TempDir(), "viewer")
	os.WriteFile(tok, []byte("view-token\n"), 0o600)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"cluster", "status", "--collector", base, "--token-file", tok}, &out, &errb); err != nil {
		t.Fatalf("%v %s", err, errb.String())
	}
	for _, want := range []string{"mode alone, asked solo", "state database reachable", "lease 10s", "alive (asked)", "heartbeat  solo"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("cluster status lacks %q:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"cluster", "--help"}, {"cluster", "status", "-h"}} {
		out.Reset()
		if err := run(context.Background(), args, &out, &errb); err != nil && !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "sage") {
			t.Errorf("%v: %v %q", args, err, out.String())
		}
	}
}
