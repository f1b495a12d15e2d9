package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwarkhq/bulwark/internal/audit"
)

// runPlaybook: bulwark playbook list | runs | run NAME [--input k=v] [--drill ID] |
// show RUN | approve RUN [--step S] [--comment C] | tick RUN ITEM (its
// number in the listing `show` prints, from 1, or its text)
func runPlaybook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "bulwark playbook (list | runs | run NAME [--input name=value...] | show RUN | approve RUN [--step NAME] [--comment TEXT] | tick RUN ITEM-NUMBER-OR-TEXT | export RUN --out FILE) [--collector URL] [--token-file FILE]"
	verbs := map[string]int{"list": 0, "runs": 0, "run": 1, "show": 1, "approve": 1, "tick": 2, "export": 1} // positional arguments
	n, ok := 0, false
	if len(args) > 0 {
		n, ok = verbs[args[0]]
	}
	if !ok {
		if len(args) > 0 {
			if _, err := verbFlags(args, "playbook list", usage, stdout, stderr); err != nil {
				return err
			}
		}
		return fmt.Errorf("usage: %s", usage)
	}
	fs := newFlags("playbook "+args[0], usage, stdout, stderr)
	collector := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	tokenFile := tokenFlag(fs)
	var inputs stringList
	fs.Var(&inputs, "input", "run: `name=value` of an input (repeatable)")
	comment := fs.String("comment", "", "approve: why")
	stepName := fs.String("step", "", "approve: the `step` approved (default: the one the run waits on now, at the version shown)")
	outFile := fs.String("out", "", "export: `file` to write the run's signed timeline to")
	pos, err := parseFlags(fs, args[1:], n, stdout)
	if err != nil {
		return err
	}
	var out json.RawMessage
	switch args[0] {
	case "list":
		type playbook struct {
			Name, Owner string
			Steps       []struct{ Name, Kind string }
		}
		var list []playbook
		if err := callAPI(ctx, http.MethodGet, *collector, "/api/v1/playbooks", *tokenFile, nil, &list); err != nil {
			return fmt.Errorf("playbook list: %w", err)
		}
		slices.SortFunc(list, func(a, b playbook) int { return strings.Compare(a.Name, b.Name) })
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PLAYBOOK\tOWNER\tSTEPS")
		for _, p := range list {
			var steps []string
			for _, s := range p.Steps {
				steps = append(steps, s.Name+" ("+s.Kind+")")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Owner, strings.Join(steps, ", "))
		}
		return tw.Flush()
	case "runs":
		var runs []struct {
			ID, Playbook, State, Trigger string
			Started                      time.Time
		}
		if err := callAPI(ctx, http.MethodGet, *collector, "/api/v1/playbooks/runs", *tokenFile, nil, &runs); err != nil {
			return fmt.Errorf("playbook runs: %w", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tPLAYBOOK\tSTATE\tTRIGGER\tSTARTED")
		for _, r := range runs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Playbook, r.State, r.Trigger, r.Started.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	case "export":
		var x audit.Export
		if *outFile == "" {
			return errors.New("playbook export: --out is required")
		}
		if err := callAPIRaw(ctx, *collector, "/api/v1/playbooks/runs/"+url.PathEscape(pos[0])+"/export", *tokenFile, &x); err != nil {
			return fmt.Errorf("playbook export: %w", err)
		}
		b, _ := json.MarshalIndent(&x, "", "  ")
		if err := os.WriteFile(*outFile, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("playbook export: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s: %d timeline entries, signed; check it with `bulwark verify`\n", *outFile, len(x.Entries))
		return nil
	case "run":
		err = callAPI(ctx, http.MethodPost, *collector, "/api/v1/playbooks/"+url.PathEscape(pos[0])+"/run", *tokenFile,
			map[string]any{"inputs": kv(inputs)}, &out)
	case "show":
		err = callAPI(ctx, http.MethodGet, *collector, "/api/v1/playbooks/runs/"+url.PathEscape(pos[0]), *tokenFile, nil, &out)
	case "approve":
		// The request names the step (and, looked up, the run's version):
		// sent again, it cannot approve the step after the one meant.
		body := map[string]any{"comment": *comment, "step": *stepName}
		if *stepName == "" {
			var cur struct {
				Version int64
				Wait    *struct{ Step, Kind string }
			}
			if err := callAPI(ctx, http.MethodGet, *collector, "/api/v1/playbooks/runs/"+url.PathEscape(pos[0]), *tokenFile, nil, &cur); err != nil {
				return fmt.Errorf("playbook approve: %w", err)
			}
			if cur.Wait == nil || cur.Wait.Kind != "approval" {
				return fmt.Errorf("playbook approve: run %s waits for no approval", pos[0])
			}
			body["step"], body["version"] = cur.Wait.Step, cur.Version
			fmt.Fprintf(stderr, "approving step %s (version %d)\n", cur.Wait.Step, cur.Version)
		}
		err = callAPI(ctx, http.MethodPost, *collector, "/api/v1/playbooks/runs/"+url.PathEscape(pos[0])+"/approve", *tokenFile, body, &out)
	case "tick":
		err = callAPI(ctx, http.MethodPost, *collector, "/api/v1/playbooks/runs/"+url.PathEscape(pos[0])+"/tick", *tokenFile,
			map[string]string{"item": pos[1]}, &out)
	}
	if err != nil {
		return fmt.Errorf("playbook %s: %w", args[0], err)
	}
	return printRun(stdout, out)
}

// printRun prints a run: its state, what it waits on, its timeline.
func printRun(w io.Writer, raw json.RawMessage) error {
	var r struct {
		ID, Playbook, State string
		Wait                *struct {
			Step, Kind, Role string
			Items            []string
			Ticked           map[string]string
		}
		Timeline []struct {
			At                 time.Time
			User, Action, Hash string
			Detail             json.RawMessage
		}
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	fmt.Fprintf(w, "run %s of %s: %s\n", r.ID, r.Playbook, r.State)
	if wt := r.Wait; wt != nil && r.State == "waiting" {
		switch wt.Kind {
		case "approval":
			fmt.Fprintf(w, "waiting for an approval of step %s (role %s): bulwark playbook approve %s --step %s\n", wt.Step, wt.Role, r.ID, wt.Step)
		default:
			fmt.Fprintf(w, "waiting for checklist %s: bulwark playbook tick %s N (N as listed, from 1, or the item's text)\n", wt.Step, r.ID)
			for i, it := range wt.Items {
				mark := "[ ]"
				if by, ok := wt.Ticked[it]; ok {
					mark = "[x] " + by + ":"
				}
				fmt.Fprintf(w, "  %d. %s %s\n", i+1, mark, it)
			}
		}
	}
	for _, e := range r.Timeline {
		fmt.Fprintf(w, "  %s  %-10s %-16s %s\n", e.At.UTC().Format("15:04:05"), e.User, e.Action, e.Detail)
	}
	return nil
}
