package collector

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/collector/ingest"
	"github.com/bulwarkhq/bulwark/collector/sink/influx"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/selfmetrics"
)

// storeSelfMetrics appends the collector's own bulwark_* metrics to its
// store every interval, as Prometheus scrapes itself: the dashboards read
// ingest, notifications and incidents from the same data source.
func (a *App) storeSelfMetrics(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var b labels.ScratchBuilder
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			series, err := selfmetrics.Series(a.registry, selfmetrics.Prefix("bulwark_", "prometheus_rule_group_"), now.UnixMilli())
			if err != nil {
				a.opts.Logger.Warn("cannot gather the collector's own metrics", "err", err)
				continue
			}
			app := a.store.Appender(ctx)
			for _, s := range series {
				b.Reset()
				for _, l := range s.Labels {
					b.Add(l.Name, l.Value)
				}
				if _, err := app.Append(0, b.Labels(), s.Samples[0].Timestamp, s.Samples[0].Value); err != nil {
					a.opts.Logger.Debug("own metric not stored", "series", b.Labels().String(), "err", err)
				}
			}
			if err := app.Commit(); err != nil {
				a.opts.Logger.Warn("cannot store the collector's own metrics", "err", err)
			}
		}
	}
}

// newSinks opens the configured sinks and has ingest copy to them.
func (a *App) newSinks(ing *ingest.Handler) error {
	if err := a.newRemoteWrite(); err != nil {
		return err
	}
	in := a.opts.Config.Sinks.InfluxDB
	if in == nil {
		return nil
	}
	token := ""
	if in.TokenFile != "" || in.TokenEnv != "" {
		var err error
		if token, err = configfile.Secret(in.TokenFile, in.TokenEnv); err != nil {
			return fmt.Errorf("collector: sinks.influxdb: %w", err)
		}
	}
	s, err := influx.New(influx.Options{URL: in.URL, Org: in.Org, Bucket: in.Bucket, Token: token,
		Dir: filepath.Join(a.opts.Config.DataDir, "influx-queue"), MaxBytes: in.MaxQueueBytes, MaxAge: time.Duration(in.MaxQueueAge),
		BatchSize: in.BatchSize, Logger: a.opts.Logger.With("component", "influx"), Registerer: a.registry})
	if err != nil {
		return fmt.Errorf("collector: sinks.influxdb: %w", err)
	}
	a.influx = s
	ing.SetSink(s.Append)
	return nil
}

// registerDiskMetrics exposes the free and total bytes of the file system
// holding the data directory: a full disk stops the store.
func (a *App) registerDiskMetrics() {
	stat := func(free bool) float64 {
		var st syscall.Statfs_t
		if err := syscall.Statfs(a.opts.Config.DataDir, &st); err != nil {
			return math.NaN()
		}
		if free {
			return float64(st.Bavail) * float64(st.Bsize)
		}
		return float64(st.Blocks) * float64(st.Bsize)
	}
	a.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "storage", Name: "free_bytes",
			Help: "Bytes free (for an unprivileged user) on the file system of the data directory."}, func() float64 { return stat(true) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "bulwark", Subsystem: "storage", Name: "size_bytes",
			Help: "Size of the file system of the data directory."}, func() float64 { return stat(false) }))
}
