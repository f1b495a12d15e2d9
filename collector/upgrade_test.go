package collector

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// copyDir copies the fixture so the test never writes into testdata.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeFromV0 opens a data directory written before data
// directories carried a format version (testdata/upgrade, by commit
// 75b9f2e) with this collector: every sample and the silence are there,
// and the directory is marked with the current format. A directory of a
// newer format than this binary's is refused, not misread.
func TestUpgradeFromV0(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/upgrade/v0", dir)
	cfg := collectorconfig.Default()
	cfg.DataDir = dir
	app, err := New(Options{Config: &cfg})
	if err != nil {
		t.Fatalf("the previous format did not open: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	q, err := app.store.Querier(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	set := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "probe_success"))
	n, series := 0, 0
	for set.Next() {
		series++
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			n++
		}
	}
	q.Close()
	sil, err := app.state.LoadSilences(t.Context())
	if series != 10 || n != 100 || err != nil || len(sil) != 1 || sil[0].Comment != "fixture" {
		t.Errorf("after the upgrade: %d series, %d samples (want 10, 100); silences %v %v", series, n, sil, err)
	}
	app.Stop(context.Background())
	if b, err := os.ReadFile(filepath.Join(dir, "FORMAT")); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Errorf("FORMAT: %q %v", b, err)
	}
	// A newer format is refused.
	os.WriteFile(filepath.Join(dir, "FORMAT"), []byte("2\n"), 0o640)
	if _, err := New(Options{Config: &cfg}); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("a newer data format: %v", err)
	}
}
