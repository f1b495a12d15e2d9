package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	fmt.Fprintf(out, "Query: %s over %d series of %d samples (1h at 15s), %d repetitions once all data is searchable; every engine's answer checked against the first's.\nMachine: %s\n\n",
		q, o.series, points, o.reps, machine())
	fmt.Fprintln(out, "| engine | median | p90 | min |")
	fmt.Fprintln(out, "|---|---:|---:|---:|")
	var want map[string]float64
	for _, name := range o.engines {
		e, err := startEngine(ctx, name, o)
		if err != nil {
			return err
		}
		if err := send(ctx, e, bodies, o.conns); err != nil {
			e.stop()
			return err
		}
		u := e.base + "/api/v1/query?query=" + url.QueryEscape(q) + "&time=" + strconv.FormatInt(end.Unix()-7, 10)
		// Wait until every sample is searchable (VictoriaMetrics buffers
		// new data for a moment), and check the answer against the first engine's.
		got, err := waitResult(u, len(sectors), 60*time.Second)
		if err != nil {
			e.stop()
			return fmt.Errorf("%s: %w", name, err)
		}
		if want == nil {
			want = got
		} else if !sameResult(want, got) {
			e.stop()
			return fmt.Errorf("%s answers %v, the first engine %v", name, got, want)
		}
		var lat []time.Duration
		for range o.reps {
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
			lat = append(lat, d)
		}
		e.stop()
		slices.Sort(lat)
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", name, lat[len(lat)/2].Round(10*time.Microsecond),
			lat[len(lat)*9/10].Round(10*time.Microsecond), lat[0].Round(10*time.Microsecond))
	}
	return nil
}

// waitResult polls u until its vector has n elements and returns them by sector.
func waitResult(u string, n int, timeout time.Duration) (map[string]float64, error) {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(u)
		if err != nil {
			return nil, err
		}
		var pr struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(pr.Data.Result) == n {
			out := map[string]float64{}
			for _, r := range pr.Data.Result {
				s, _ := r.Value[1].(string)
				out[r.Metric["sector"]], _ = strconv.ParseFloat(s, 64)
			}
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d results after %s", len(pr.Data.Result), n, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sameResult(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if math.Abs(v-b[k]) > 1e-6*math.Max(1, math.Abs(v)) {
			return false
		}
	}
	return true
}
