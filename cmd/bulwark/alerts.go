package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"

	"github.com/bulwarkhq/bulwark/alerting"
)

// callAPI sends a request to the collector's API with the user's token and
// decodes the data of a success into out.
func callAPI(ctx context.Context, method, base, path, tokenFile string, body, out any) error {
	b, err := request(ctx, method, base, path, tokenFile, body)
	if err != nil {
		return err
	}
	var env struct{ Data json.RawMessage }
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Data, out)
}

// callAPIRaw GETs path and decodes the whole answer (not an API envelope).
func callAPIRaw(ctx context.Context, base, path, tokenFile string, out any) error {
	b, err := request(ctx, http.MethodGet, base, path, tokenFile, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// request sends one request with the caller's token and returns the body
// of a 2xx answer (at most 256 MiB).
func request(ctx context.Context, method, base, path, tokenFile string, body any) ([]byte, error) {
	resp, err := send(ctx, method, base, path, tokenFile, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, apiError(b))
	}
	return b, nil
}

// send sends one request with the caller's token (body as JSON, if any)
// and returns the answer unread: for callers that stream it.
func send(ctx context.Context, method, base, path, tokenFile string, body any) (*http.Response, error) {
	tok, err := apiToken(tokenFile)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return http.DefaultClient.Do(req)
}

// runAlerts: bulwark alerts list | ack ID [--comment C] [--remove]. ID is
// the short id `alerts list` shows, or the whole group key; an unknown one
// is an error naming the nearest open incidents.
func runAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "bulwark alerts (list | ack ID [--comment TEXT] [--remove]) [--collector URL] [--token-file FILE]"
	if len(args) == 0 || args[0] != "list" && args[0] != "ack" {
		if len(args) > 0 {
			if _, err := verbFlags(args, "alerts list", usage, stdout, stderr); err != nil {
				return err
			}
		}
		return fmt.Errorf("usage: %s", usage)
	}
	fs := newFlags("alerts "+args[0], usage, stdout, stderr)
	collector := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	tokenFile := tokenFlag(fs)
	comment := fs.String("comment", "", "ack: what you are doing about it")
	remove := fs.Bool("remove", false, "ack: give the incident back")
	n := 0
	if args[0] == "ack" {
		n = 1
	}
	pos, err := parseFlags(fs, args[1:], n, stdout)
	if err != nil {
		return err
	}
	if args[0] == "ack" {
		var ack alerting.Ack
		if err := callAPI(ctx, http.MethodPost, *collector, "/api/v1/incidents/ack", *tokenFile,
			map[string]any{"group_key": pos[0], "comment": *comment, "remove": *remove}, &ack); err != nil {
			return fmt.Errorf("alerts ack: %w", err)
		}
		verb := "acknowledged by"
		if ack.Removed {
			verb = "given back by"
		}
		fmt.Fprintf(stdout, "incident %s %s %s (%s)\n", alerting.ShortID(ack.GroupKey), verb, ack.By, ack.GroupKey)
		return nil
	}
	var incidents []struct {
		alerting.Incident
		ID    string          `json:"id"`
		Cause *alerting.Cause `json:"cause"`
	}
	if err := callAPI(ctx, http.MethodGet, *collector, "/api/v1/incidents", *tokenFile, nil, &incidents); err != nil {
		return fmt.Errorf("alerts list: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tGROUP\tRECEIVER\tALERTS\tSILENCED\tACKNOWLEDGED\tPROBABLE CAUSE\tTARGETS")
	for _, in := range incidents {
		var targets []string
		for _, a := range in.Alerts {
			if t := a.Labels.Get("target"); t != "" && !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
		ack := "-"
		if in.Ack != nil && !in.Ack.Removed {
			ack = in.Ack.By + " " + in.Ack.At.UTC().Format(time.RFC3339)
		}
		cause := "-"
		if c := in.Cause; c != nil {
			cause = fmt.Sprintf("%s (%s, %d of %d)", c.Name, c.Layer, len(c.Targets), len(targets))
		}
		var group []string
		for _, k := range slices.Sorted(maps.Keys(in.GroupLabels)) {
			group = append(group, k+"="+in.GroupLabels[k])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", cmp.Or(in.ID, alerting.ShortID(in.GroupKey)), strings.Join(group, ","),
			in.Receiver, len(in.Alerts), in.Silenced, ack, cause, strings.Join(targets, ","))
	}
	return tw.Flush()
}

// runSilence: bulwark silence add --match k=v ... (--for D | --until T | --schedule CRON --window D) --comment C
// | list | expire ID
func runSilence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "bulwark silence (add --match label=value... [--match-re label=regexp] (--for 2h | --schedule CRON --window 2h [--tz ZONE] --for 720h) --comment TEXT | list | expire ID) [--collector URL] [--token-file FILE]"
	if len(args) == 0 || args[0] != "add" && args[0] != "list" && args[0] != "expire" {
		if len(args) > 0 {
			if _, err := verbFlags(args, "silence list", usage, stdout, stderr); err != nil {
				return err
			}
		}
		return fmt.Errorf("usage: %s", usage)
	}
	fs := newFlags("silence "+args[0], usage, stdout, stderr)
	collector := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	tokenFile := tokenFlag(fs)
	var match, matchRE stringList
	fs.Var(&match, "match", "add: a `matcher` the silence needs, Alertmanager's syntax: label=value, label!=value, label=~regexp, label!~regexp (repeatable)")
	fs.Var(&matchRE, "match-re", "add: `label=regexp` the silence matches (repeatable)")
	forD := fs.String("for", "", "add: how long the silence (or the series of windows) lasts, e.g. 2h")
	schedule := fs.String("schedule", "", "add: a recurring maintenance window, cron, e.g. \"0 2 * * SUN\"")
	window := fs.String("window", "", "add: the length of each window, e.g. 2h")
	tz := fs.String("tz", "", "add: the schedule's time zone, e.g. Europe/Paris (default UTC)")
	comment := fs.String("comment", "", "add: why")
	n := 0
	if args[0] == "expire" {
		n = 1
	}
	pos, err := parseFlags(fs, args[1:], n, stdout)
	if err != nil {
		return err
	}
	switch args[0] {
	case "expire":
		if err := callAPI(ctx, http.MethodDelete, *collector, "/api/v1/silences/"+pos[0], *tokenFile, nil, nil); err != nil {
			return fmt.Errorf("silence expire: %w", err)
		}
		fmt.Fprintf(stdout, "silence %s expired\n", pos[0])
		return nil
	case "list":
		var list []alerting.Silence
		if err := callAPI(ctx, http.MethodGet, *collector, "/api/v1/silences", *tokenFile, nil, &list); err != nil {
			return fmt.Errorf("silence list: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMATCHERS\tUNTIL\tSCHEDULE\tBY\tCOMMENT")
		for _, s := range list {
			var m []string
			for k, v := range s.Matchers {
				m = append(m, k+"="+v)
			}
			for k, v := range s.MatchRE {
				m = append(m, k+"=~"+v)
			}
			for _, x := range s.Match {
				m = append(m, x.String())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, strings.Join(m, ","), s.EndsAt.UTC().Format(time.RFC3339), s.Schedule, s.By, s.Comment)
		}
		return tw.Flush()
	}
	eq, ms, err := silenceMatchers(match)
	if err != nil {
		return fmt.Errorf("silence add: %w", err)
	}
	req := map[string]any{"matchers": eq, "match": ms, "match_re": kv(matchRE), "for": *forD, "schedule": *schedule,
		"window": *window, "tz": *tz, "comment": *comment}
	var s alerting.Silence
	if err := callAPI(ctx, http.MethodPost, *collector, "/api/v1/silences", *tokenFile, req, &s); err != nil {
		return fmt.Errorf("silence add: %w", err)
	}
	fmt.Fprintf(stdout, "silence %s until %s\n", s.ID, s.EndsAt.UTC().Format(time.RFC3339))
	return nil
}

// silenceMatchers splits --match flags: label=value ones as before (a map),
// the others in Alertmanager's syntax.
func silenceMatchers(flags []string) (eq map[string]string, ms []string, err error) {
	eq = map[string]string{}
	for _, f := range flags {
		parsed, err := alerting.ParseMatchers(f)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range parsed {
			if m.Type == amlabels.MatchEqual {
				eq[m.Name] = m.Value
			} else {
				ms = append(ms, m.String())
			}
		}
	}
	return eq, ms, nil
}

// kv turns label=value flags into a map.
func kv(pairs []string) map[string]string {
	m := map[string]string{}
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		m[k] = v
	}
	return m
}
