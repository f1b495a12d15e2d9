package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/collector/store"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// TestBackupDuringIngestAndRestore takes `bulwark backup` of a collector
// while an agent pushes, restores it with `bulwark restore` into a fresh
// directory, and finds there every sample acknowledged before the backup
// began and every state row (silences, audit entries) written before it;
// a damaged backup, or a restore into a used directory, is refused.
func TestBackupDuringIngestAndRestore(t *testing.T) {
	dir := t.TempDir()
	agents, users := auth.NewAgents(), auth.NewUsers()
	agents.Add("agent-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	users.Add("admin-token", false, auth.User{ID: "ada", Role: auth.RoleAdmin})
	adminFile := filepath.Join(dir, "admin.token")
	os.WriteFile(adminFile, []byte("admin-token\n"), 0o600)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte("data_dir: "+filepath.Join(dir, "data")+"\n"), 0o600)
	cfg, err := collectorconfig.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	app, err := collector.New(collector.Options{Config: cfg, ConfigFile: cfgFile, Agents: agents, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	defer app.Stop(context.Background())
	base := "http://" + app.Addr()

	// State rows: three silences, each also an audit entry.
	for i := range 3 {
		body := fmt.Sprintf(`{"matchers": {"target": "svc-%d"}, "for": "1h", "comment": "maintenance %d"}`, i, i)
		req, _ := http.NewRequest("POST", base+"/api/v1/silences", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin-token")
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("silence: %v %v %s", resp.StatusCode, err, b)
		}
	}
	// An agent pushes batches of 100 samples without pause; acked counts those answered 2xx.
	var acked atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now().Add(-time.Hour).UnixMilli()
	wg.Go(func() {
		for round := 0; ctx.Err() == nil; round++ {
			var req wire.WriteRequest
			for i := range 100 {
				req.Series = append(req.Series, wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"},
					{Name: "target", Value: fmt.Sprintf("svc-%03d", i)}}, Samples: []wire.Sample{{Value: 1, Timestamp: start + int64(round)*1000}}})
			}
			r, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, wire.AppendRequest(nil, &req))))
			r.Header.Set("Authorization", "Bearer agent-token")
			r.Header.Set("Content-Encoding", "snappy")
			if resp, err := http.DefaultClient.Do(r); err == nil {
				if resp.StatusCode/100 == 2 {
					acked.Add(100)
				}
				resp.Body.Close()
			}
		}
	})
	for acked.Load() < 20000 {
		time.Sleep(10 * time.Millisecond)
	}
	before := acked.Load() // acknowledged before the backup began
	file := filepath.Join(dir, "backup.tar.gz")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"backup", "--out", file, "--collector", base, "--token-file", adminFile}, &out, io.Discard); err != nil {
		t.Fatalf("backup: %v", err)
	}
	cancel()
	wg.Wait()
	t.Logf("%s(%d samples acknowledged before the backup, %d by the end)", out.String(), before, acked.Load())
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("the backup is readable by others: %v", st.Mode())
	}

	restored := filepath.Join(dir, "restored")
	out.Reset()
	if err := run(t.Context(), []string{"restore", file, "--data", restored}, &out, io.Discard); err != nil {
		t.Fatalf("restore: %v", err)
	}
	db, err := store.OpenTSDB(filepath.Join(restored, "tsdb"), store.Options{Retention: 24 * time.Hour, OutOfOrderWindow: 2 * time.Hour}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	q, _ := db.Querier(0, time.Now().UnixMilli())
	set := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "probe_success"))
	var n int64
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			n++
		}
	}
	q.Close()
	db.Close()
	if n < before {
		t.Errorf("the restored store has %d samples; %d were acknowledged before the backup began", n, before)
	}
	sdb, err := state.Open(filepath.Join(restored, "state", "bulwark.db"))
	if err != nil {
		t.Fatal(err)
	}
	sil, _ := sdb.LoadSilences(t.Context())
	log, _ := sdb.AuditLog(t.Context(), 100)
	sdb.Close()
	if len(sil) != 3 || len(log) < 3 {
		t.Errorf("restored state: %d silences, %d audit entries", len(sil), len(log))
	}
	for _, f := range []string{"restored-config/bulwark.yml", "state/signing.key", "FORMAT"} {
		if _, err := os.Stat(filepath.Join(restored, f)); err != nil {
			t.Errorf("restored: %v", err)
		}
	}
	// A used directory is refused; a damaged archive is refused before anything is written.
	if err := run(t.Context(), []string{"restore", file, "--data", restored}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a used directory: %v", err)
	}
	b, _ := os.ReadFile(file)
	damaged := filepath.Join(dir, "damaged.tar.gz")
	os.WriteFile(damaged, b[:len(b)*2/3], 0o600)
	fresh := filepath.Join(dir, "fresh")
	if err := run(t.Context(), []string{"restore", damaged, "--data", fresh}, io.Discard, io.Discard); err == nil {
		t.Error("a truncated backup restored")
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("a refused restore wrote into %s", fresh)
	}
}
