package influx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/internal/testenv/influxd"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

var (
	freePort    = influxd.FreeAddr
	startInflux = influxd.Start
)

func series(n int, ts time.Time) []wire.Series {
	var out []wire.Series
	for i := range n {
		out = append(out, wire.Series{
			Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "agent", Value: "home-1"}, {Name: "target", Value: fmt.Sprintf("svc-%d", i)}},
			Samples: []wire.Sample{{Value: 1, Timestamp: ts.UnixMilli()}, {Value: 0, Timestamp: ts.Add(time.Second).UnixMilli()}}})
	}
	return out
}

// count reads back with Flux through the same client: the points of
// probe_success, and the targets seen.
func count(t *testing.T, addr string) (int, map[string]bool) {
	t.Helper()
	c := influxdb2.NewClient("http://"+addr, "")
	defer c.Close()
	res, err := c.QueryAPI("").Query(context.Background(), `from(bucket: "bulwark/autogen") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "probe_success" and r._field == "value")`)
	if err != nil {
		return -1, nil
	}
	n, targets := 0, map[string]bool{}
	for res.Next() {
		n++
		targets[fmt.Sprint(res.Record().ValueByKey("target"))] = true
	}
	return n, targets
}

func newSink(t *testing.T, addr, dir string) *Sink {
	t.Helper()
	s, err := New(Options{URL: "http://" + addr, Bucket: "bulwark/autogen", Dir: dir, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitPoints(t *testing.T, addr string, want int) map[string]bool {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, targets := count(t, addr)
		if n == want {
			return targets
		}
		if time.Now().After(deadline) {
			t.Fatalf("InfluxDB holds %d points, want %d", n, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSinkToRealInfluxDB: samples reach InfluxDB 1.8's v2 write API as
// measurement = metric, tags = labels, field "value", and read back with
// Flux; through an outage and a restart of the collector nothing is lost.
func TestSinkToRealInfluxDB(t *testing.T) {
	addr, influxDir, queueDir := freePort(t), t.TempDir(), t.TempDir()
	stopInflux := startInflux(t, addr, influxDir)
	ts := time.Now().Add(-time.Minute).Truncate(time.Second)

	s := newSink(t, addr, queueDir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	if err := s.Append(series(3, ts)); err != nil {
		t.Fatal(err)
	}
	if targets := waitPoints(t, addr, 6); !targets["svc-0"] || !targets["svc-2"] {
		t.Fatalf("targets as tags: %v", targets)
	}

	// InfluxDB goes away: what the collector accepts waits on disk.
	stopInflux()
	if err := s.Append(series(5, ts.Add(10*time.Second))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if s.Pending() != 10 {
		t.Fatalf("pending during the outage: %d, want 10", s.Pending())
	}
	// The collector restarts during the outage; the queue is on disk.
	cancel()
	<-done
	s.Close()
	s = newSink(t, addr, queueDir)
	defer s.Close()
	if s.Pending() != 10 {
		t.Fatalf("pending after a restart: %d, want 10", s.Pending())
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	startInflux(t, addr, influxDir) // back, with its data
	waitPoints(t, addr, 6+10)
	if s.Pending() != 0 {
		t.Errorf("pending once delivered: %d", s.Pending())
	}
}

// TestSinkToVictoriaMetrics: Debian's VictoriaMetrics takes the same
// writes (it names the series measurement_field: probe_success_value).
func TestSinkToVictoriaMetrics(t *testing.T) {
	bin := testbin.Need(t, "victoria-metrics", "victoria-metrics")
	addr := freePort(t)
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-search.latencyOffset=0s", "-loggerLevel=ERROR")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	s := newSink(t, addr, t.TempDir())
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	if err := s.Append(series(4, time.Now().Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(`count(probe_success_value{agent="home-1"})`))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `"4"`) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("VictoriaMetrics does not hold the four series: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// BenchmarkSinkToInfluxDB measures points per second from the sink's disk
// queue into a real InfluxDB 1.8.10 on loopback: each iteration queues
// 10,000 points (5,000 series, two samples) and waits until InfluxDB has
// taken them all. The baseline writes the same points straight with the
// client's blocking write API, no queue.
func BenchmarkSinkToInfluxDB(b *testing.B) {
	addr := freePort(b)
	startInflux(b, addr, b.TempDir())
	const seriesPerRound = 5000
	b.Run("sink", func(b *testing.B) {
		s, err := New(Options{URL: "http://" + addr, Bucket: "bulwark/autogen", Dir: b.TempDir(), MaxBackoff: 200 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		round := 0
		for b.Loop() {
			round++
			if err := s.Append(series(seriesPerRound, time.Now().Add(-time.Duration(round)*time.Minute))); err != nil {
				b.Fatal(err)
			}
			for s.Pending() > 0 {
				time.Sleep(time.Millisecond)
			}
		}
		b.ReportMetric(float64(2*seriesPerRound*b.N)/b.Elapsed().Seconds(), "points/s")
	})
	b.Run("direct-baseline", func(b *testing.B) {
		c := influxdb2.NewClientWithOptions("http://"+addr, "", influxdb2.DefaultOptions().SetUseGZip(true))
		defer c.Close()
		w := c.WriteAPIBlocking("", "bulwark/autogen")
		s := &Sink{write: w, written: prometheus.NewCounter(prometheus.CounterOpts{Name: "x", Help: "x"})}
		round := 0
		for b.Loop() {
			round++
			req := &wire.WriteRequest{Series: series(seriesPerRound, time.Now().Add(-time.Duration(round)*time.Minute-30*time.Second))}
			if err := s.send(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(2*seriesPerRound*b.N)/b.Elapsed().Seconds(), "points/s")
	})
}
