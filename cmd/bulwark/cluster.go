package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/bulwarkhq/bulwark/collector/cluster"
)

// runCluster is `bulwark cluster status`: the members sharing the state,
// their leases, and whether the collector asked sees the database.
func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "bulwark cluster status [--collector URL] [--token-file FILE]"
	if len(args) == 0 || args[0] != "status" {
		if len(args) > 0 {
			if _, err := verbFlags(args, "cluster status", usage, stdout, stderr); err != nil {
				return err
			}
		}
		return fmt.Errorf("usage: %s", usage)
	}
	fs := newFlags("cluster status", usage, stdout, stderr)
	collector := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	tokenFile := tokenFlag(fs)
	if _, err := parseFlags(fs, args[1:], 0, stdout); err != nil {
		return err
	}
	var s cluster.Status
	if err := callAPI(ctx, http.MethodGet, *collector, "/api/v1/status/cluster", *tokenFile, nil, &s); err != nil {
		return fmt.Errorf("cluster status: %w", err)
	}
	printCluster(stdout, s, time.Now())
	return nil
}

func printCluster(w io.Writer, s cluster.Status, now time.Time) {
	state := "reachable"
	if !s.StateUp {
		state = "UNREACHABLE: " + s.Degraded
	}
	fmt.Fprintf(w, "mode %s, asked %s (%s), state database %s, lease %gs\n", s.Mode, s.Member, s.Instance, state, s.LeaseSeconds)
	if s.Error != "" {
		fmt.Fprintf(w, "members and leases unknown: %s\n", s.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tINSTANCE\tADDRESS\tVERSION\tLAST SEEN\tSTATE")
	for _, m := range s.Members {
		st := "alive"
		if !m.Alive {
			st = "silent"
		}
		if m.Self {
			st += " (asked)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s ago\t%s\n", m.Member.Member, m.Instance, m.Address, m.Version, now.Sub(m.LastSeen).Round(time.Second), st)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEASE\tHELD BY\tINSTANCE\tEXPIRES")
	for _, l := range s.Leases {
		exp := "-"
		if !l.Expires.IsZero() {
			exp = "in " + l.Expires.Sub(now).Round(time.Second).String()
			if cluster.Expired(l, now) {
				exp = "expired " + now.Sub(l.Expires).Round(time.Second).String() + " ago"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Name, l.Member, l.Instance, exp)
	}
	tw.Flush()
}
