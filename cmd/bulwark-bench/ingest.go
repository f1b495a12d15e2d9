package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// probeSeries builds n probe-shaped series of 7 labels, the shape agents
// push: the phases of HTTP checks, probe_http_duration_seconds{phase}.
func probeSeries(n int) [][]wire.Label {
	sectors := []string{"energy", "finance", "government", "health", "telecom", "transport"}
	phases := []string{"resolve", "connect", "tls", "processing", "transfer"}
	out := make([][]wire.Label, n)
	for i := range out {
		out[i] = []wire.Label{
			{Name: "__name__", Value: "probe_http_duration_seconds"},
			{Name: "agent", Value: "bench"},
			{Name: "check", Value: "http"},
			{Name: "phase", Value: phases[i%len(phases)]},
			{Name: "sector", Value: sectors[(i/len(phases))%len(sectors)]},
			{Name: "target", Value: fmt.Sprintf("service-%05d", i/len(phases))},
			{Name: "vantage", Value: "home"},
		}
	}
	return out
}

// encodeRounds pre-encodes every request of every round: round r carries
// one sample per series at start + r*15s.
func encodeRounds(series [][]wire.Label, rounds, batch int, start time.Time) [][][]byte {
	out := make([][][]byte, rounds)
	for r := range rounds {
		ts := start.Add(time.Duration(r) * 15 * time.Second).UnixMilli()
		for i := 0; i < len(series); i += batch {
			var req wire.WriteRequest
			for j := i; j < min(i+batch, len(series)); j++ {
				req.Series = append(req.Series, wire.Series{Labels: series[j],
					Samples: []wire.Sample{{Value: float64(j%1000) / 1000, Timestamp: ts}}})
			}
			out[r] = append(out[r], wire.Compress(nil, &req))
		}
	}
	return out
}

// send posts bodies over conns connections and returns the first error.
func send(ctx context.Context, e *engine, bodies [][]byte, conns int) error {
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	next := make(chan []byte)
	for range conns {
		client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}, Timeout: time.Minute}
		wg.Go(func() {
			for b := range next {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.writeURL, bytes.NewReader(b))
				req.Header.Set("Content-Encoding", "snappy")
				req.Header.Set("Content-Type", "application/x-protobuf")
				req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
				if e.token != "" {
					req.Header.Set("Authorization", "Bearer "+e.token)
				}
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					errs <- fmt.Errorf("%s: HTTP %d: %s", e.name, resp.StatusCode, msg)
					return
				}
			}
		})
	}
	var err error
loop:
	for _, b := range bodies {
		select {
		case next <- b:
		case err = <-errs:
			break loop
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

type ingestResult struct {
	engine              string
	firstRate, restRate float64 // samples/s wall
	firstCPU, restCPU   float64 // samples per CPU-second
	rss                 int64
}

func benchIngest(ctx context.Context, o options, out io.Writer) error {
	series := probeSeries(o.series)
	start := time.Now().Add(-time.Duration(o.rounds) * 15 * time.Second)
	rounds := encodeRounds(series, o.rounds, o.batch, start)
	var results []ingestResult
	for _, name := range o.engines {
		e, err := startEngine(ctx, name, o)
		if err != nil {
			return err
		}
		res := ingestResult{engine: name}
		var restSamples int
		var restWall, restCPU time.Duration
		for r, bodies := range rounds {
			cpu0, _ := e.cpu()
			t0 := time.Now()
			if err := send(ctx, e, bodies, o.conns); err != nil {
				e.stop()
				return err
			}
			wall := time.Since(t0)
			cpu1, _ := e.cpu()
			if r == 0 {
				res.firstRate = float64(o.series) / wall.Seconds()
				res.firstCPU = float64(o.series) / max(cpu1-cpu0, 10*time.Millisecond).Seconds()
				continue
			}
			restSamples += o.series
			restWall += wall
			restCPU += cpu1 - cpu0
		}
		if restSamples > 0 {
			res.restRate = float64(restSamples) / restWall.Seconds()
			res.restCPU = float64(restSamples) / max(restCPU, 10*time.Millisecond).Seconds()
		}
		res.rss = e.rss()
		e.stop()
		results = append(results, res)
	}
	fmt.Fprintf(out, "Ingest: %d probe-shaped series of 7 labels, %d rounds of one sample each, %d series per request, %d connections.\nMachine: %s\n\n",
		o.series, o.rounds, o.batch, o.conns, machine())
	fmt.Fprintln(out, "| engine | new series: samples/s | new series: samples/CPU-s | known series: samples/s | known series: samples/CPU-s | RSS after |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Fprintf(out, "| %s | %.0f | %.0f | %.0f | %.0f | %d MB |\n", r.engine, r.firstRate, r.firstCPU, r.restRate, r.restCPU, r.rss>>20)
	}
	return nil
}
