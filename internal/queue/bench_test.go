package queue

import (
	"fmt"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// BenchmarkDrain delivers a backlog of 40,000 probe-shaped records (about
// 10 segments, what a collector away for four hours leaves at 167 probes a
// second) in batches of 2,000 samples, as the pusher does after an outage.
func BenchmarkDrain(b *testing.B) {
	const records = 40000
	rec := make([]wire.Series, 12)
	for i := range rec {
		rec[i] = wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_duration_seconds"},
			{Name: "check", Value: "http"}, {Name: "phase", Value: fmt.Sprint("phase-", i)}, {Name: "sector", Value: "energy"},
			{Name: "target", Value: "service-01234"}}, Samples: []wire.Sample{{Value: 0.0123, Timestamp: 1}}}
	}
	q, err := Open(Options{Dir: b.TempDir(), CommitDelay: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	// Appends go in groups, as concurrent probes' do.
	for i := 0; i < records; i += 100 {
		done := make(chan error, 100)
		for range 100 {
			go func() { done <- q.Append(rec) }()
		}
		for range 100 {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	}
	c := q.cursors[0]
	start := c.pos
	b.ResetTimer()
	var batch Batch
	for b.Loop() {
		q.mu.Lock()
		c.pos, c.pending = start, records*len(rec)
		q.mu.Unlock()
		n := 0
		for {
			if err := q.ReadInto(&batch, 2000); err != nil {
				b.Fatal(err)
			}
			if batch.Samples == 0 {
				break
			}
			n += batch.Samples
			q.mu.Lock()
			c.pos = batch.next // as Commit, without removing delivered segments
			q.mu.Unlock()
		}
		if n != records*len(rec) {
			b.Fatalf("drained %d samples, want %d", n, records*len(rec))
		}
	}
	b.ReportMetric(float64(q.total())/(1<<20), "MiB-backlog")
}
