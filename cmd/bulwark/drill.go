package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// runDrill: bulwark drill start --cut KIND=VALUE... --for D [--playbook NAME] |
// list | show ID | stop ID | report ID [--format html|md|json] --out FILE
func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "bulwark drill (start --cut country=CC|provider=NAME|asn=N|cidr=P... --for DURATION [--playbook NAME...] | list | show ID | stop ID | report ID [--format html|md|json] --out FILE) [--collector URL] [--token-file FILE]"
	verbs := map[string]int{"start": 0, "list": 0, "show": 1, "stop": 1, "report": 1}
	n, ok := 0, false
	if len(args) > 0 {
		n, ok = verbs[args[0]]
	}
	if !ok {
		if len(args) > 0 {
			if _, err := verbFlags(args, "drill list", usage, stdout, stderr); err != nil {
				return err
			}
		}
		return fmt.Errorf("usage: %s", usage)
	}
	fs := newFlags("drill "+args[0], usage, stdout, stderr)
	base := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	tokenFile := tokenFlag(fs)
	var cuts, pbs stringList
	fs.Var(&cuts, "cut", "start: what is lost, `KIND=VALUE` with KIND country, provider, asn or cidr (repeatable)")
	fs.Var(&pbs, "playbook", "start: a playbook `NAME` to run in drill mode (repeatable)")
	dur := fs.Duration("for", 30*time.Minute, "start: how long the drill lasts (the agents end it themselves then)")
	format := fs.String("format", "html", "report: html, md or json")
	out := fs.String("out", "", "report: `file` to write the signed report to")
	pos, err := parseFlags(fs, args[1:], n, stdout)
	if err != nil {
		return err
	}
	var d struct {
		ID, Scenario         string
		StartedBy            string `json:"started_by"`
		EndedBy              string `json:"ended_by"`
		Started, Ends, Ended time.Time
		Prefixes             int `json:"cut_prefixes"`
		Names                int `json:"cut_names"`
		Agents               map[string]time.Time
		Runs                 []string
		Prediction           *depgraph.WhatIf
	}
	switch args[0] {
	case "start":
		cut, err := parseCut(cuts)
		if err != nil {
			return fmt.Errorf("drill start: %w", err)
		}
		body := collector.StartDrill{Cut: cut, Duration: configfile.Duration(*dur), Playbooks: pbs}
		if err := callAPI(ctx, http.MethodPost, *base, "/api/v1/drills", *tokenFile, body, &d); err != nil {
			return fmt.Errorf("drill start: %w", err)
		}
	case "list":
		var list []struct {
			ID, Scenario         string
			Started, Ends, Ended time.Time
		}
		if err := callAPI(ctx, http.MethodGet, *base, "/api/v1/drills", *tokenFile, nil, &list); err != nil {
			return fmt.Errorf("drill list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DRILL\tSCENARIO\tSTARTED\tENDS\tSTATE")
		for _, d := range list {
			state := "running"
			if !d.Ended.IsZero() {
				state = "ended " + d.Ended.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, d.Scenario, d.Started.UTC().Format(time.RFC3339), d.Ends.UTC().Format(time.RFC3339), state)
		}
		return tw.Flush()
	case "show":
		err = callAPI(ctx, http.MethodGet, *base, "/api/v1/drills/"+url.PathEscape(pos[0]), *tokenFile, nil, &d)
	case "stop":
		err = callAPI(ctx, http.MethodPost, *base, "/api/v1/drills/"+url.PathEscape(pos[0])+"/stop", *tokenFile, nil, &d)
	case "report":
		if *out == "" {
			return errors.New("drill report: --out is required")
		}
		b, err := request(ctx, http.MethodGet, *base, "/api/v1/drills/"+url.PathEscape(pos[0])+"/report?format="+url.QueryEscape(*format), *tokenFile, nil)
		if err != nil {
			return fmt.Errorf("drill report: %w", err)
		}
		if err := os.WriteFile(*out, b, 0o600); err != nil {
			return fmt.Errorf("drill report: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s (%d bytes), signed; check it with `bulwark verify %s`\n", *out, len(b), *out)
		return nil
	}
	if err != nil {
		return fmt.Errorf("drill %s: %w", args[0], err)
	}
	state := "running until " + d.Ends.UTC().Format(time.RFC3339)
	if !d.Ended.IsZero() {
		state = "ended " + d.Ended.UTC().Format(time.RFC3339) + " by " + d.EndedBy
	}
	fmt.Fprintf(stdout, "drill %s: %s\n  %s; started %s by %s\n  cut-set: %d address ranges, %d name servers\n",
		d.ID, d.Scenario, state, d.Started.UTC().Format(time.RFC3339), d.StartedBy, d.Prefixes, d.Names)
	if p := d.Prediction; p != nil {
		fmt.Fprintf(stdout, "  predicted: %d lost, %d degraded, %d untouched, %d cannot tell\n",
			p.Totals[depgraph.Lost], p.Totals[depgraph.Degraded], p.Totals[depgraph.Untouched], p.Totals[depgraph.Unknown])
	}
	fmt.Fprintf(stdout, "  agents enforcing the cut: %d\n", len(d.Agents))
	if len(d.Runs) > 0 {
		fmt.Fprintf(stdout, "  playbook runs (drill mode): %s\n", strings.Join(d.Runs, ", "))
	}
	return nil
}

// parseCut reads --cut KIND=VALUE flags.
func parseCut(cuts []string) (depgraph.Cut, error) {
	var c depgraph.Cut
	for _, s := range cuts {
		kind, v, ok := strings.Cut(s, "=")
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return c, fmt.Errorf("--cut %q: want KIND=VALUE (country=CC, provider=NAME, asn=N, cidr=P)", s)
		}
		switch strings.ToLower(kind) {
		case "country":
			if len(v) != 2 {
				return c, fmt.Errorf("--cut %q: a country is a two-letter code", s)
			}
			c.Countries = append(c.Countries, strings.ToUpper(v))
		case "provider":
			c.Providers = append(c.Providers, v)
		case "asn":
			n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 32)
			if err != nil {
				return c, fmt.Errorf("--cut %q: not an AS number", s)
			}
			c.ASNs = append(c.ASNs, uint32(n))
		case "cidr":
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return c, fmt.Errorf("--cut %q: %w", s, err)
			}
			c.CIDRs = append(c.CIDRs, p.Masked())
		default:
			return c, fmt.Errorf("--cut %q: kind %q is not country, provider, asn or cidr", s, kind)
		}
	}
	if c.Empty() {
		return c, errors.New("name what is cut: --cut country=CC, provider=NAME, asn=N or cidr=P")
	}
	return c, nil
}
