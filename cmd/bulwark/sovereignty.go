package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// runGeo: bulwark geo import --libloc [--dump FILE] --out DIR
func runGeo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, err := verbFlags(args, "geo import", "bulwark geo import --libloc [--dump FILE] --out DIR", stdout, stderr)
	if err != nil {
		return err
	}
	libloc := fs.Bool("libloc", false, "import Debian's libloc-database (runs `location dump`)")
	dump := fs.String("dump", "", "read this `file` (the output of `location dump`) instead of running it")
	out := fs.String("out", "", "`directory` to write country.mmdb and asn.mmdb into")
	if _, err := parseFlags(fs, args[1:], 0, stdout); err != nil {
		return err
	}
	if !*libloc || *out == "" {
		return errors.New("geo import: --libloc and --out are required (the only source for now is libloc)")
	}
	var r io.Reader
	var wait func() error
	if *dump != "" {
		f, err := os.Open(*dump)
		if err != nil {
			return fmt.Errorf("geo import: %w", err)
		}
		defer f.Close()
		r = f
	} else {
		bin, err := exec.LookPath("location")
		if err != nil {
			return errors.New("geo import: the `location` command is missing: apt-get install location libloc-database")
		}
		cmd := exec.CommandContext(ctx, bin, "dump")
		cmd.Stderr = stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("geo import: location dump: %w", err)
		}
		r, wait = pipe, cmd.Wait
	}
	start := time.Now()
	st, err := attrib.ImportLibloc(r, *out)
	if wait != nil {
		if werr := wait(); werr != nil && err == nil {
			err = fmt.Errorf("geo import: location dump: %w", werr)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/country.mmdb and %s/asn.mmdb: %d networks, %d AS names, in %s (data: IPFire Project, CC BY-SA 4.0; see %s/ATTRIBUTION)\n",
		*out, *out, st.Networks, st.ASNames, time.Since(start).Round(time.Millisecond), *out)
	if g, err := attrib.OpenGeo(*out); err == nil {
		if stale := g.Staleness(time.Now()); stale != "" {
			fmt.Fprintln(stderr, "warning: "+stale)
		}
		g.Close()
	}
	return nil
}

// runAttrib: bulwark attrib lookup [--geo DIR] [--catalog FILE] [--kind K] INPUT [--json]
func runAttrib(args []string, stdout, stderr io.Writer) error {
	fs, err := verbFlags(args, "attrib lookup", "bulwark attrib lookup [--geo DIR] [--catalog FILE] [--roots FILE|DIR] [--kind ip|cname|ns|mx|ca] INPUT [--json]", stdout, stderr)
	if err != nil {
		return err
	}
	geoDir := fs.String("geo", "", "`directory` with country.mmdb and asn.mmdb")
	var catalogs stringList
	fs.Var(&catalogs, "catalog", "extra provider catalog `file` (repeatable)")
	kind := fs.String("kind", "", "what INPUT is: ip, cname, ns, mx or ca (default: ip for addresses, else cname)")
	roots := fs.String("roots", "", "trusted root certificates, a PEM `bundle or directory` (default "+attrib.DefaultTrustStore+" when present; none for no store)")
	asJSON := fs.Bool("json", false, "print JSON")
	inputs, err := parseArgs(fs, args[1:], stdout)
	if err != nil {
		return err
	}
	if len(inputs) != 1 {
		return errors.New("attrib lookup: give one address, host name or CA organisation")
	}
	cat, err := attrib.LoadCatalog(catalogs...)
	if err != nil {
		return err
	}
	a := &attrib.Attributor{Catalog: cat}
	if a.Roots, err = (collectorconfig.Attribution{TrustStore: *roots}).Roots(); err != nil {
		return err
	}
	if *geoDir != "" {
		if a.Geo, err = attrib.OpenGeo(*geoDir); err != nil {
			return err
		}
		defer a.Geo.Close()
	}
	in := inputs[0]
	k := *kind
	if k == "" {
		k = "cname"
		if strings.Count(in, ".") == 3 || strings.Contains(in, ":") {
			k = "ip"
		}
	}
	var res attrib.Attribution
	switch k {
	case "ip":
		if a.Geo == nil {
			return errors.New("attrib lookup: an address needs --geo DIR (build it with `bulwark geo import --libloc --out DIR`)")
		}
		res = a.Addr(in)
	case "cname", "ns", "mx":
		res = a.Name(k, in)
	case "ca":
		res = a.CA("", in, "")
	default:
		return fmt.Errorf("attrib lookup: unknown kind %q", k)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"input": in, "kind": k, "attribution": res})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "input\t%s (%s)\n", in, k)
	if res.Provider != "" {
		fmt.Fprintf(tw, "provider\t%s (%s)\n", res.ProviderName, res.Provider)
	}
	if res.ASN != 0 {
		fmt.Fprintf(tw, "AS\tAS%d %s\n", res.ASN, res.ASName)
	}
	if res.Country != "" {
		fmt.Fprintf(tw, "location\t%s\n", res.Country)
	}
	fmt.Fprintf(tw, "jurisdiction\t%s\n", cmp.Or(res.Jurisdiction, "unknown"))
	fmt.Fprintf(tw, "rule\t%s\n", res.Rule)
	fmt.Fprintf(tw, "evidence\t%s\n", res.Evidence)
	return tw.Flush()
}

// runWhatif asks a running collector: bulwark whatif --country XC ...
func runWhatif(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("whatif", "bulwark whatif [--collector URL] [--token-file FILE] (--country CC | --provider ID | --asn N | --cidr P)... [--json]", stdout, stderr)
	collector := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	tokenFile := tokenFlag(fs)
	var countries, providers, asns, cidrs stringList
	fs.Var(&countries, "country", "cut a `country` (ISO code; repeatable)")
	fs.Var(&providers, "provider", "cut a `provider` (catalog id; repeatable)")
	fs.Var(&asns, "asn", "cut an AS `number` (repeatable)")
	fs.Var(&cidrs, "cidr", "cut an address `range` (repeatable)")
	asJSON := fs.Bool("json", false, "print the collector's JSON")
	if _, err := parseFlags(fs, args, 0, stdout); err != nil {
		return err
	}
	tok, err := apiToken(*tokenFile)
	if err != nil {
		return fmt.Errorf("whatif: %w", err)
	}
	q := url.Values{"country": countries, "provider": providers, "asn": asns, "cidr": cidrs}
	if _, err := depgraph.ParseCut(q); err != nil {
		return fmt.Errorf("whatif: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(*collector, "/")+"/api/v1/whatif?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("whatif: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("whatif: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("whatif: HTTP %d: %s", resp.StatusCode, apiError(body))
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var r struct{ Data depgraph.WhatIf }
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("whatif: %w", err)
	}
	w := r.Data
	fmt.Fprintf(stdout, "What if %s is cut off: %d lost, %d degraded, %d untouched, %d cannot tell (unattributed)\n\n", w.Cut, w.Totals["lost"], w.Totals["degraded"], w.Totals["untouched"], w.Totals["unattributed"])
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTCOME\tSECTOR\tSERVICE\tREASON")
	for _, s := range w.Services {
		if s.Outcome == depgraph.Untouched {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Outcome, s.Sector, s.Target, strings.Join(s.Reasons, "; "))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nConcentration (services depending on it in hosting, CDN or DNS):")
	for i, c := range w.Providers {
		if i == 5 {
			break
		}
		fmt.Fprintf(stdout, "  provider %-14s %3d services (%.0f%%)\n", c.Key, c.Services, 100*c.Share)
	}
	for i, c := range w.Countries {
		if i == 5 {
			break
		}
		fmt.Fprintf(stdout, "  country  %-14s %3d services (%.0f%%)\n", c.Key, c.Services, 100*c.Share)
	}
	for sector, h := range w.HHI {
		fmt.Fprintf(stdout, "  HHI %s: %.0f\n", sector, h)
	}
	return nil
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// apiError is the message of an API error answer, or the body itself.
func apiError(body []byte) string {
	var e struct{ Error string }
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(body))
}
