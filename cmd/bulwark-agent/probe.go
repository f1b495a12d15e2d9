package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/agent/probe"
)

// probeRow is one line of `bulwark-agent probe --once`.
type probeRow struct {
	Target   string             `json:"target"`
	Check    string             `json:"check"`
	Success  bool               `json:"success"`
	Duration float64            `json:"duration_seconds"`
	Reason   string             `json:"reason,omitempty"`
	Error    string             `json:"error,omitempty"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
}

// probeOnce runs every check of every target once, concurrency-bounded,
// prints a table (or JSON), and returns an error if any probe failed.
func probeOnce(ctx context.Context, cfg *agentconfig.Config, withDeps, asJSON bool, concurrency int, stdout io.Writer, logger *slog.Logger) error {
	env, err := agent.ProbeEnv(cfg, nil, logger)
	if err != nil {
		return err
	}
	type job struct {
		t     int
		check string
	}
	var jobs []job
	for i := range cfg.Targets {
		for _, c := range cfg.Targets[i].EffectiveChecks() {
			jobs = append(jobs, job{i, c})
		}
		if withDeps {
			jobs = append(jobs, job{i, "deps"})
		}
	}
	rows := make([]probeRow, len(jobs))
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t := &cfg.Targets[j.t]
			res := probe.Run(ctx, j.check, t, env)
			row := probeRow{Target: t.ID, Check: j.check, Success: res.Success, Duration: res.Duration.Seconds(), Reason: probe.Reason(res.Err)}
			if res.Err != nil {
				row.Error = res.Err.Error()
			}
			if asJSON {
				row.Metrics = map[string]float64{}
				for _, m := range res.Metrics {
					key := m.Name
					for k := 0; k+1 < len(m.Labels); k += 2 {
						key += fmt.Sprintf(",%s=%s", m.Labels[k], m.Labels[k+1])
					}
					row.Metrics[key] = m.Value
				}
			}
			rows[i] = row
		})
	}
	wg.Wait()
	slices.SortStableFunc(rows, func(a, b probeRow) int { return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.Check, b.Check)) })
	failed := 0
	for _, r := range rows {
		if !r.Success {
			failed++
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tCHECK\tRESULT\tDURATION\tDETAIL")
		for _, r := range rows {
			result := "ok"
			if !r.Success {
				result = "FAIL"
			}
			detail := r.Error
			if r.Reason != "" {
				detail = r.Reason + ": " + detail
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Target, r.Check, result, time.Duration(r.Duration*float64(time.Second)).Round(time.Millisecond), detail)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "%d probes, %d failed\n", len(rows), failed)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d probes failed", failed, len(rows))
	}
	return nil
}
