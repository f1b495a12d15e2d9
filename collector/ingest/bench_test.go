package ingest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/sink/influx"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// BenchmarkIngestKnownSeries measures one 2,000-series request of
// probe-shaped series already in the head, the steady state of a collector.
func BenchmarkIngestKnownSeries(b *testing.B) { benchIngest(b, nil) }

// BenchmarkIngestKnownSeriesWithSink is the same with the InfluxDB sink
// on: every stored sample is also written to its disk queue (InfluxDB
// itself is not in the loop: its sender drains the queue apart).
func BenchmarkIngestKnownSeriesWithSink(b *testing.B) {
	s, err := influx.New(influx.Options{URL: "http://127.0.0.1:1", Bucket: "bulwark", Dir: b.TempDir(), MaxBytes: 8 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchIngest(b, s.Append)
}

func benchIngest(b *testing.B, sink func([]wire.Series) error) {
	o := tsdb.DefaultOptions()
	o.OutOfOrderTimeWindow = time.Hour.Milliseconds()
	db, err := tsdb.Open(b.TempDir(), nil, nil, o, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	agents := auth.NewAgents()
	agents.Add("tok", auth.Identity{Agent: "bench", Vantage: "home"})
	h, _ := New(Options{Store: db, Agents: agents})
	if sink != nil {
		h.SetSink(sink)
	}
	const n = 2000
	start := time.Now().Add(-30 * time.Minute)
	body := func(round int) []byte {
		var req wire.WriteRequest
		for i := range n {
			req.Series = append(req.Series, wire.Series{Labels: []wire.Label{
				{Name: "__name__", Value: "probe_duration_seconds"}, {Name: "agent", Value: "bench"}, {Name: "check", Value: "http"},
				{Name: "phase", Value: "connect"}, {Name: "sector", Value: "energy"},
				{Name: "target", Value: fmt.Sprintf("service-%05d", i)}, {Name: "vantage", Value: "home"},
			}, Samples: []wire.Sample{{Value: 0.1, Timestamp: start.Add(time.Duration(round) * time.Millisecond).UnixMilli()}}})
		}
		return wire.Compress(nil, &req)
	}
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = body(i)
	}
	post := func(b0 []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(b0))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Encoding", "snappy")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	post(bodies[0])
	b.ReportAllocs()
	cpu0 := cpuTime()
	i := 1
	for b.Loop() {
		post(bodies[i%len(bodies)])
		i++
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
	// On a shared machine the wall time varies with the neighbours; the
	// process's CPU time per request varies less.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
