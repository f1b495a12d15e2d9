package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/names"
	"github.com/bulwarkhq/bulwark/collector/zone"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// sovereigntyFlags are the flags zone and report commands share: where the
// data is, and how to attribute (from a collector config, or flags).
type sovereigntyFlags struct {
	config, data, geo, home string
	catalogs, trusted       stringList
}

func (f *sovereigntyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "collector configuration `file` (data_dir and attribution)")
	fs.StringVar(&f.data, "data", "", "collector data `directory` (overrides the config's)")
	fs.StringVar(&f.geo, "geo", "", "geo `directory` (overrides the config's)")
	fs.StringVar(&f.home, "home", "", "home `country` (overrides the config's policy)")
	fs.Var(&f.trusted, "trusted", "trusted partner `country` (repeatable; overrides the config's)")
	fs.Var(&f.catalogs, "catalog", "extra catalog `file` (repeatable)")
}

// load returns the data directory, the attributor and the policy.
func (f *sovereigntyFlags) load() (string, *attrib.Attributor, *attrib.Policy, func(), error) {
	cfg := collectorconfig.Default()
	if f.config != "" {
		c, err := collectorconfig.Load(f.config)
		if err != nil {
			return "", nil, nil, nil, err
		}
		cfg = *c
	}
	if f.data != "" {
		cfg.DataDir = f.data
	}
	if f.geo != "" {
		cfg.Attribution.GeoDir = f.geo
	}
	pol := cfg.Attribution.Policy
	if f.home != "" {
		pol.Home = strings.ToUpper(f.home)
	}
	if len(f.trusted) > 0 {
		pol.Trusted = nil
		for _, c := range f.trusted {
			pol.Trusted = append(pol.Trusted, strings.ToUpper(c))
		}
	}
	cat, err := attrib.LoadCatalog(append(cfg.Attribution.CatalogFiles, f.catalogs...)...)
	if err != nil {
		return "", nil, nil, nil, err
	}
	a := &attrib.Attributor{Catalog: cat}
	if a.Roots, err = cfg.Attribution.Roots(); err != nil {
		return "", nil, nil, nil, err
	}
	closer := func() {}
	if cfg.Attribution.GeoDir != "" {
		if a.Geo, err = attrib.OpenGeo(cfg.Attribution.GeoDir); err != nil {
			return "", nil, nil, nil, err
		}
		closer = func() { a.Geo.Close() }
	}
	return cfg.DataDir, a, &pol, closer, nil
}

// types maps imported targets' domains to their types.
func types(ctx context.Context, dataDir string) map[string]string {
	inv, closeDB, err := openInventory(ctx, dataDir, nil)
	if err != nil {
		return map[string]string{}
	}
	defer closeDB()
	return inventory.Types(inv)
}

// runZone: bulwark zone import FILE [--origin O] (--config F | --data DIR)
func runZone(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, err := verbFlags(args, "zone import", "bulwark zone import FILE [--origin ZONE] [--config FILE | --data DIR]", stdout, stderr)
	if err != nil {
		return err
	}
	var sf sovereigntyFlags
	sf.register(fs)
	origin := fs.String("origin", "", "the zone's `name` (default: from its SOA)")
	pos, err := parseFlags(fs, args[1:], 1, stdout)
	if err != nil {
		return err
	}
	file := pos[0]
	start := time.Now()
	snap, err := zone.ParseFile(file, *origin)
	if err != nil {
		return err
	}
	dataDir, a, pol, done, err := sf.load()
	if err != nil {
		return err
	}
	defer done()
	if a.Geo != nil {
		if stale := a.Geo.Staleness(time.Now()); stale != "" {
			fmt.Fprintln(stderr, "warning: "+stale)
		}
	}
	st := zone.NewStore(filepath.Join(dataDir, "state", "zone"))
	prev, _, _ := st.Latest(snap.Origin)
	path, err := st.Save(snap)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: zone %s exported %s: %d delegations, %d NS records, %d DS records; saved %s (%s)\n",
		file, snap.Origin, snap.Exported.Format(time.RFC3339), len(snap.Delegations), snap.NSRecords, snap.DSRecords, path, time.Since(start).Round(time.Millisecond))
	if prev != nil && !prev.Exported.Equal(snap.Exported) {
		ty := types(ctx, dataDir)
		changes := zone.Analyze(snap, a, pol, ty).Changes(zone.Analyze(prev, a, pol, ty))
		abroad := 0
		for _, c := range changes {
			if c.ToState == depgraph.ForeignCritical || c.ToState == depgraph.ForeignMulti {
				abroad++
			}
		}
		fmt.Fprintf(stdout, "since the import of %s: %d domains changed DNS provider or jurisdiction, %d of them now entirely foreign\n",
			prev.Exported.Format(time.RFC3339), len(changes), abroad)
		for i, c := range changes {
			if i == 20 {
				fmt.Fprintf(stdout, "  ... %d more\n", len(changes)-20)
				break
			}
			fmt.Fprintf(stdout, "  %s: %s -> %s (%s)\n", c.Target, c.Before, c.After, c.ToState)
		}
	}
	return nil
}

// runReport: bulwark report dns [--origin O] [--json | --csv providers|domains|types] [--country CC ...]
func runReport(args []string, stdout, stderr io.Writer) error {
	fs, err := verbFlags(args, "report dns", "bulwark report dns [--config FILE | --data DIR] [--json | --csv providers|domains|types] [--cut-country CC] [--cut-provider ID]", stdout, stderr)
	if err != nil {
		return err
	}
	var sf sovereigntyFlags
	sf.register(fs)
	origin := fs.String("origin", "", "zone `name` (default: the only one imported)")
	asJSON := fs.Bool("json", false, "print JSON")
	csvTable := fs.String("csv", "", "print a `table` as CSV: providers, domains or types")
	top := fs.Int("top", 20, "providers shown in the text report")
	var cutCountries, cutProviders stringList
	fs.Var(&cutCountries, "cut-country", "what-if: the domains lost if this `country` cut them off (repeatable)")
	fs.Var(&cutProviders, "cut-provider", "what-if: the domains lost without this `provider` (repeatable)")
	if _, err := parseFlags(fs, args[1:], 0, stdout); err != nil {
		return err
	}
	dataDir, a, pol, done, err := sf.load()
	if err != nil {
		return err
	}
	defer done()
	if a.Geo != nil {
		if stale := a.Geo.Staleness(time.Now()); stale != "" {
			fmt.Fprintln(stderr, "warning: "+stale)
		}
	}
	st := zone.NewStore(filepath.Join(dataDir, "state", "zone"))
	o := *origin
	if o == "" {
		origins, err := st.Origins()
		if err != nil {
			return err
		}
		if len(origins) != 1 {
			return fmt.Errorf("report dns: %d zones imported %v: choose one with --origin", len(origins), origins)
		}
		o = origins[0]
	}
	snap, _, err := st.Latest(o)
	if err != nil {
		return err
	}
	// What agents resolved for a running collector on this data directory.
	var resolved func(string) []string
	if st, err := names.Open(filepath.Join(dataDir, "state", "names.json")); err == nil {
		resolved = st.Lookup
	}
	an := zone.AnalyzeWith(snap, a, pol, types(context.Background(), dataDir), resolved)
	if len(cutCountries)+len(cutProviders) > 0 {
		cut, err := depgraph.ParseCut(map[string][]string{"country": cutCountries, "provider": cutProviders})
		if err != nil {
			return err
		}
		// A provider by id, name or alias; an unknown one is an error with
		// near matches, never a silent "0 lost".
		cut = an.ResolveCut(cut.Resolve(a.CatalogInUse()))
		if err := cut.Check(an.Services, a.CatalogInUse()); err != nil {
			return err
		}
		w := depgraph.Evaluate(an.Services, cut, nil)
		if *asJSON {
			return json.NewEncoder(stdout).Encode(w)
		}
		fmt.Fprintf(stdout, "What if %s is cut off: of %d domains of %s, %d lose their DNS, %d keep some name servers, %d are untouched, %d cannot tell (unattributed name servers)\n",
			w.Cut, len(an.Services), snap.Origin, w.Totals[depgraph.Lost], w.Totals[depgraph.Degraded], w.Totals[depgraph.Untouched], w.Totals[depgraph.Unknown])
		return nil
	}
	r := an.Report(*csvTable == "domains" || *asJSON)
	switch {
	case *csvTable != "":
		return r.WriteCSV(stdout, *csvTable)
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	r.WriteText(stdout, *top)
	return nil
}
