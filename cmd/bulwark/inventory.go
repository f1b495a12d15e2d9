package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/state"
)

// runTargets: bulwark targets import --csv FILE [--preset P] [--map f=Col] [--set f=v] [--dry-run]
// (--data DIR | --collector URL --token-file F)
func runTargets(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, err := verbFlags(args, "targets import", "bulwark targets import --csv FILE [--preset bulwark|dotgov] [--map field=Column] [--set field=value] [--dry-run] (--data DIR | --collector URL [--token-file FILE])", stdout, stderr)
	if err != nil {
		return err
	}
	file := fs.String("csv", "", "CSV `file` to import")
	preset := fs.String("preset", "bulwark", "column layout: "+strings.Join(presetNames(), ", "))
	var maps, sets stringList
	fs.Var(&maps, "map", "`field=Column`: read a field from another column (repeatable)")
	fs.Var(&sets, "set", "`field=value`: the same value for every row (repeatable)")
	dry := fs.Bool("dry-run", false, "show what would change, change nothing")
	data := fs.String("data", "", "collector data `directory` to import into directly")
	collector := fs.String("collector", "", "collector base `URL` to import through (operator role)")
	tokenFile := tokenFlag(fs)
	if _, err := parseFlags(fs, args[1:], 0, stdout); err != nil {
		return err
	}
	if *file == "" || (*data == "") == (*collector == "") {
		return errors.New("targets import: give --csv and exactly one of --data or --collector")
	}
	m, ok := inventory.Presets()[*preset]
	if !ok {
		return fmt.Errorf("targets import: unknown preset %q (known: %s)", *preset, strings.Join(presetNames(), ", "))
	}
	m = inventory.Mapping{Columns: clone(m.Columns), Set: clone(m.Set), Optional: m.Optional}
	for _, kv := range maps {
		f, c, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("targets import: --map %q is not field=Column", kv)
		}
		m.Columns[f] = c
	}
	for _, kv := range sets {
		f, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("targets import: --set %q is not field=value", kv)
		}
		delete(m.Columns, f)
		m.Set[f] = v
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("targets import: %w", err)
	}
	if *collector != "" {
		if len(maps)+len(sets) > 0 {
			return errors.New("targets import: --map and --set work with --data; through the API use a preset")
		}
		return importRemote(ctx, *collector, *tokenFile, *preset, *file, body, *dry, stdout)
	}
	ts, err := inventory.ParseCSV(*file, body, m)
	if err != nil {
		return err
	}
	s, closeDB, err := openInventory(ctx, *data, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return fmt.Errorf("targets import: %w", err)
	}
	defer closeDB()
	d, err := s.UpsertContext(ctx, ts, *dry)
	if err != nil {
		return err
	}
	printDiff(stdout, d, *dry)
	return nil
}

// openInventory opens the imported targets of data directory dir: those
// of its SQLite state database (DATA_DIR/state/bulwark.db), into which an
// older release's targets.json is imported once, as the collector does.
func openInventory(ctx context.Context, dir string, log *slog.Logger) (*inventory.Store, func(), error) {
	stateDir := filepath.Join(dir, "state")
	if err := os.MkdirAll(stateDir, 0o750); err != nil {
		return nil, nil, err
	}
	db, err := state.Open(filepath.Join(stateDir, "bulwark.db"))
	if err != nil {
		return nil, nil, err
	}
	s, err := inventory.New(ctx, inventory.Options{DB: db, Legacy: filepath.Join(stateDir, "targets.json"), Logger: log})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, func() { db.Close() }, nil
}

func importRemote(ctx context.Context, base, tokenFile, preset, name string, body []byte, dry bool, stdout io.Writer) error {
	tok, err := apiToken(tokenFile)
	if err != nil {
		return fmt.Errorf("targets import: %w", err)
	}
	if tok == "" {
		return errors.New("targets import: the API needs an operator's token: --token-file FILE or BULWARK_TOKEN")
	}
	q := url.Values{"preset": {preset}, "name": {filepath.Base(name)}, "dry_run": {fmt.Sprint(dry)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v1/targets/import?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("targets import: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Rows          []inventory.RowError
		Refused       int // every refused row; Rows lists the first
		Data          inventory.Diff
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("targets import: HTTP %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		if len(r.Rows) > 0 {
			return &inventory.Error{File: name, Rows: r.Rows, Total: r.Refused}
		}
		return fmt.Errorf("targets import: HTTP %d: %s", resp.StatusCode, r.Error)
	}
	printDiff(stdout, r.Data, dry)
	return nil
}

func printDiff(w io.Writer, d inventory.Diff, dry bool) {
	verb := "imported"
	if dry {
		verb = "dry run, nothing written"
	}
	fmt.Fprintf(w, "%s: %s\n", verb, d)
	for i, id := range d.Added {
		if i == 20 {
			fmt.Fprintf(w, "  ... %d more added\n", len(d.Added)-20)
			break
		}
		fmt.Fprintf(w, "  + %s\n", id)
	}
	for i, id := range d.Changed {
		if i == 20 {
			fmt.Fprintf(w, "  ... %d more changed\n", len(d.Changed)-20)
			break
		}
		fmt.Fprintf(w, "  ~ %s\n", id)
	}
}

func presetNames() []string {
	var out []string
	for k := range inventory.Presets() {
		out = append(out, k)
	}
	return out
}

func clone(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
