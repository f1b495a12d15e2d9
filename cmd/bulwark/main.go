// Command bulwark is the Bulwark collector and the operator's CLI.
//
//	bulwark collector --config FILE   run the collector
//	bulwark demo                      run the demo world on embedded defaults
//	bulwark check --config FILE       validate a collector configuration
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/bulwarkhq/bulwark/alerting/rule"
	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/query"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/playbooks"
)

const usage = `Usage: bulwark <command> [flags]

Commands:
  collector --config FILE   run the collector
  demo [--listen ADDR] [--data DIR]
                            run a simulated nation, a collector and two agents
  check --config FILE       validate a collector configuration (with its catalog and geo files) and exit
  attrib lookup [--geo DIR] [--kind ip|cname|ns|mx|ca] INPUT [--json]
                            who is behind an address, a host name or a CA, and why
  whatif [--collector URL] --country CC | --provider ID | --asn N | --cidr P
                            which services a cut would lose or degrade
  targets import --csv FILE [--preset bulwark|dotgov] [--dry-run] (--data DIR | --collector URL --token-file F)
                            bulk-import targets, all or nothing, with a diff
  zone import FILE --data DIR
                            record every delegation of a DNS zone file as DNS dependencies
  report dns --data DIR [--json|--csv]
                            who runs the DNS of the imported zone, where, with what redundancy
  alerts list | alerts ack ID [--comment TEXT]
                            incidents now, with short ids and probable cause (viewer); take one (operator)
  silence add --match 'label=value' (or !=, =~, !~) (--for 2h | --schedule CRON --window 2h --for 720h) --comment TEXT
  silence list | silence expire ID
                            silences and recurring maintenance windows (operator)
  playbook list | runs | run NAME [--input k=v] | show RUN | approve RUN | tick RUN ITEM
                            playbooks and their runs (viewer reads, operator acts)
  drill start --cut country=CC|provider=NAME|asn=N|cidr=P --for 30m [--playbook NAME]
  drill list | show ID | stop ID | report ID [--format html|md|json] --out FILE
                            failover drills: agents probe as if the cut happened (operator starts)
  audit export --out FILE [--collector URL]
                            the audit log, hash-chained and signed (admin)
  backup --out FILE [--collector URL]
                            a consistent backup of the running collector, checked (admin)
  restore FILE --data DIR   restore a backup into a new data directory
  state migrate --from sqlite:PATH --to postgres:DSN [--replace]
                            copy a stopped collector's state to PostgreSQL, checked row by row
  user hash-password        read a password on stdin, print its argon2id hash for users[].password_hash
  verify [--key FILE] FILE  check a signed audit export, run timeline or drill report: the first altered entry
  geo import --libloc --out DIR
                            build the IP databases from Debian's libloc-database
  version                   print the version

Run "bulwark <command> -h" for the flags of a command.
`

// Version is set at build time.
var Version = "0.1.0-dev"

func init() { query.Version = Version }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // the usage asked for is printed
		}
		fmt.Fprintln(os.Stderr, "bulwark:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "collector":
		return runCollector(ctx, args[1:], stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "attrib":
		return runAttrib(args[1:], stdout, stderr)
	case "whatif":
		return runWhatif(ctx, args[1:], stdout, stderr)
	case "geo":
		return runGeo(ctx, args[1:], stdout, stderr)
	case "targets":
		return runTargets(ctx, args[1:], stdout, stderr)
	case "zone":
		return runZone(ctx, args[1:], stdout, stderr)
	case "report":
		return runReport(args[1:], stdout, stderr)
	case "alerts":
		return runAlerts(ctx, args[1:], stdout, stderr)
	case "playbook":
		return runPlaybook(ctx, args[1:], stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		return runRestore(args[1:], stdout, stderr)
	case "drill":
		return runDrill(ctx, args[1:], stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "verify":
		return runVerify(args[1:], stdout, stderr)
	case "silence":
		return runSilence(ctx, args[1:], stdout, stderr)
	case "state":
		return runState(ctx, args[1:], stdout, stderr)
	case "user":
		return runUser(args[1:], os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "bulwark", Version)
		return nil
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runCollector(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("collector", "bulwark collector --config FILE [--web.config.file FILE] [--log.level LEVEL]", stdout, stderr)
	file := fs.String("config", "bulwark.yml", "collector configuration `file`")
	webConfig := fs.String("web.config.file", "", "Prometheus web configuration `file` (TLS, client certificates)")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	if _, err := parseFlags(fs, args, 0, stdout); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	cfg, err := collectorconfig.Load(*file)
	if err != nil {
		return err
	}
	app, err := collector.New(collector.Options{Config: cfg, ConfigFile: *file, WebConfigFile: *webConfig, Logger: logger})
	if err != nil {
		return err
	}
	// SIGHUP (systemd's reload) reloads; a bad file keeps the old configuration.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := app.Start(nil); err != nil {
		app.Stop(context.Background())
		return err
	}
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-hup:
			app.Reload() // logs and exports its outcome
		case err := <-app.Done():
			logger.Error("server stopped", "err", err)
			break wait
		}
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return app.Stop(sctx)
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", "bulwark check --config FILE", stdout, stderr)
	file := fs.String("config", "bulwark.yml", "collector configuration `file`")
	if _, err := parseFlags(fs, args, 0, stdout); err != nil {
		return err
	}
	cfg, err := collectorconfig.Load(*file)
	if err != nil {
		return err
	}
	if _, _, err := cfg.Tables(); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	if err := rule.CheckGlobs(cfg.Alerting.RuleFiles); err != nil {
		return err
	}
	if f := cfg.Web.ConfigFile; f != "" {
		if err := web.Validate(f); err != nil {
			return fmt.Errorf("%s: web.config_file %s: %w", *file, f, err)
		}
	}
	cat, err := attrib.LoadCatalog(cfg.Attribution.CatalogFiles...)
	if err != nil {
		return err
	}
	if cfg.Attribution.GeoDir != "" {
		g, err := attrib.OpenGeo(cfg.Attribution.GeoDir)
		if err != nil {
			return err
		}
		g.Close()
	}
	if _, err := cfg.Attribution.Roots(); err != nil {
		return fmt.Errorf("attribution.trust_store: %w", err)
	}
	pbs, err := playbooks.LoadGlobs(cfg.Playbooks.Files, cfg.PlaybookEnv())
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stdout, "%s: warning: %s\n", *file, w)
	}
	fmt.Fprintf(stdout, "%s: valid (%d agents, %d targets, %d providers in the catalog, %d rule files, %d playbooks)\n", *file, len(cfg.Agents), len(cfg.Targets), len(cat.Providers), len(cfg.Alerting.RuleFiles), len(pbs))
	return nil
}
