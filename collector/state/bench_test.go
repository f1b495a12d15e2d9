package state

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
)

// The SQLite hot paths (the notification log's Put and Get, the audit
// append); issue 22 asks them to stay as fast as before the PostgreSQL
// dialect. This file uses only what main's package had, so it runs there
// too for the baseline.
func BenchmarkSQLite(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "bulwark.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := alerting.LogEntry{FiringHash: [32]byte{1}, SentAt: time.UnixMilli(1_790_000_000_000), Incident: "abc", Version: 2}
	b.Run("nflog-put", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if err := db.Put(ctx, "duty", fmt.Sprint("g", i%64), e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("nflog-get", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, _, err := db.Get(ctx, "duty", fmt.Sprint("g", i%64)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("audit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := db.Audit(ctx, "otto", "ack", map[string]string{"group": "g"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
