package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// benchQuery loads an hour of probe_success for o.series series at 15s
// into each engine and times a dashboard query.
func benchQuery(ctx context.Context, o options, out io.Writer) error {
	const q = `sum by (sector) (avg_over_time(probe_success[1h]))`
	sectors := []string{"energy", "finance", "government", "health", "telecom", "transport"}
	series := make([][]wire.Label, o.series)
	for i := range series {
		series[i] = []wire.Label{
			{Name: "__name__", Value: "probe_success"}, {Name: "agent", Value: "bench"}, {Name: "check", Value: "http"},
			{Name: "sector", Value: sectors[i%len(sectors)]}, {Name: "target", Value: fmt.Sprintf("service-%05d", i)},
			{Name: "vantage", Value: "home"},
		}
	}
	end := time.Now().Truncate(time.Second).Add(-time.Minute)
	const points = 240
	var bodies [][]byte
	for i := 0; i < len(series); i += o.batch / points * 10 {
		var req wire.WriteRequest
		for j := i; j < min(i+o.batch/points*10, len(series)); j++ {
			s := wire.Series{Labels: series[j]}
			for p := points; p > 0; p-- {
				v := 1.0
				if (j+p)%13 == 0 {
					v = 0
				}
				s.Samples = append(s.Samples, wire.Sample{Value: v, Timestamp: end.Add(-time.Duration(p) * 15 * time.Second).UnixMilli()})
			}
			req.Series = append(req.Series, s)
		}
		bodies = append(bodies, wire.Compress(nil, &req))
	}
	fmt.Fprintf(out, "Query: %s over %d series of %d samples (1h at 15s), %d repetitions after one warm-up.\nMachine: %s\n\n",
		q, o.series, points, o.reps, machine())
	fmt.Fprintln(out, "| engine | median | p90 | min |")
	fmt.Fprintln(out, "|---|---:|---:|---:|")
	var want string
	for _, name := range o.engines {
		e, err := startEngine(ctx, name, o)
		if err != nil {
			return err
		}
		if err := send(ctx, e, bodies, o.conns); err != nil {
			e.stop()
			return err
		}
		u := e.base + "/api/v1/query?query=" + url.QueryEscape(q) + "&time=" + strconv.FormatInt(end.Unix(), 10)
		var lat []time.Duration
		for i := range o.reps + 1 {
			t0 := time.Now()
			resp, err := http.Get(u)
			if err != nil {
				e.stop()
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			d := time.Since(t0)
			if resp.StatusCode != 200 {
				e.stop()
				return fmt.Errorf("%s: %d %s", name, resp.StatusCode, body)
			}
			if i == 0 {
				if want == "" {
					want = string(body)
				}
				continue
			}
			lat = append(lat, d)
		}
		e.stop()
		slices.Sort(lat)
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", name, lat[len(lat)/2].Round(10*time.Microsecond),
			lat[len(lat)*9/10].Round(10*time.Microsecond), lat[0].Round(10*time.Microsecond))
	}
	return nil
}
