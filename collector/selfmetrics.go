package collector

import (
	"context"
	"time"

	"github.com/prometheus/prometheus/model/labels"

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
			series, err := selfmetrics.Series(a.registry, selfmetrics.Prefix("bulwark_"), now.UnixMilli())
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
