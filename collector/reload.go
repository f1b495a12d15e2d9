package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/targets"
	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// reloader applies a changed configuration file while the collector
// serves: agents, users and their roles, anonymous access, targets, the
// provider catalog, the alerting rules and the playbook files. A file
// that does not load or validate (a playbook file included) changes
// nothing.
type reloader struct {
	a   *App
	tl  *targets.Handler
	inv *inventory.Store

	mu         sync.Mutex // one reload at a time
	configured atomic.Pointer[[]target.Target]
	success    prometheus.Gauge
	timestamp  prometheus.Gauge
}

func newReloader(a *App, tl *targets.Handler, inv *inventory.Store) *reloader {
	f := promauto.With(a.registry)
	r := &reloader{a: a, tl: tl, inv: inv,
		success: f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Name: "config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful."}),
		timestamp: f.NewGauge(prometheus.GaugeOpts{Namespace: "bulwark", Name: "config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload."}),
	}
	ts := a.opts.Config.Targets
	r.configured.Store(&ts)
	r.success.Set(1)
	r.timestamp.SetToCurrentTime()
	return r
}

// targets is the configured targets, then the imported ones whose ids the
// configuration does not use.
func (r *reloader) targets() []target.Target {
	out := slices.Clone(*r.configured.Load())
	seen := map[string]bool{}
	for _, t := range out {
		seen[t.ID] = true
	}
	for _, t := range r.inv.Targets() {
		if !seen[t.ID] {
			out = append(out, t)
		}
	}
	return out
}

// targetsChanged hands agents the new list after an import or a reload.
func (r *reloader) targetsChanged() error { return r.tl.Set(r.targets()) }

// Reload reads the configuration file again and applies it.
func (r *reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.reload()
	if err != nil {
		r.success.Set(0)
		r.a.opts.Logger.Error("configuration reload failed; keeping the old one", "file", r.a.opts.ConfigFile, "err", err)
		return err
	}
	r.success.Set(1)
	r.timestamp.SetToCurrentTime()
	r.a.opts.Logger.Info("configuration reloaded", "file", r.a.opts.ConfigFile)
	return nil
}

func (r *reloader) reload() error {
	file := r.a.opts.ConfigFile
	if file == "" {
		return errors.New("reload: the collector was not started from a configuration file")
	}
	cfg, err := collectorconfig.Load(file)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	agents, users, err := cfg.Tables()
	if err != nil {
		return fmt.Errorf("reload: %s: %w", file, err)
	}
	cat, err := attrib.LoadCatalog(cfg.Attribution.CatalogFiles...)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	// Playbooks before anything changes: one that does not check refuses
	// the reload (against the running receivers and exec allow-list,
	// which change only at restart).
	pbs, err := r.a.playbooks.check(cfg.Playbooks.Files)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	// Rules first: a bad rule file refuses the whole reload.
	if err := r.a.rules.Update(cfg.Alerting.Builtin, cfg.Alerting.RuleFiles); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	r.a.deps.Tracker().SetDriftFor(time.Duration(cfg.Alerting.Builtin.WithDefaults().DriftFor))
	old := r.a.opts.Config
	if !slices.Equal(cfg.Playbooks.ExecAllow, old.Playbooks.ExecAllow) || !slices.EqualFunc(cfg.Alerting.Receivers, old.Alerting.Receivers,
		func(a, b collectorconfig.Receiver) bool { return a.Name == b.Name }) {
		r.a.opts.Logger.Warn("alerting receivers and playbooks.exec_allow change only at restart")
	}
	if cfg.Listen != old.Listen || cfg.DataDir != old.DataDir || !reflect.DeepEqual(cfg.Storage, old.Storage) || cfg.Web != old.Web ||
		cfg.Query != old.Query || cfg.Auth.PublicMetrics != old.Auth.PublicMetrics {
		r.a.opts.Logger.Warn("listen, data_dir, storage, web, query and auth.public_metrics change only at restart")
	}
	g := r.a.guard
	if err := g.SetAnonymous(cfg.Auth.AnonymousRole); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	g.Agents.Replace(agents)
	g.Users.Replace(users)
	r.a.attributor.SetCatalog(cat)
	r.a.playbooks.swap(pbs)
	ts := cfg.Targets
	r.configured.Store(&ts)
	return r.targetsChanged()
}

func (r *reloader) serveHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := r.Reload(); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "reload", "error": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "reloaded_at": time.Now().UTC()})
}

// Reload reads the configuration file again (SIGHUP, POST /-/reload).
func (a *App) Reload() error { return a.reloader.Reload() }
