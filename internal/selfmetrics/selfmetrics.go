// Package selfmetrics turns a process's own Prometheus metrics into
// series, as a scrape would: an agent pushes its health (queue, pushes,
// lateness) with its probe results, and the collector keeps its own
// (ingest, notifications) in its store, so one data source, the
// collector, shows the whole of Bulwark in Grafana.
package selfmetrics

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Series gathers g and returns the samples of the families whose names
// keep accepts, stamped at ms, labels sorted: counters and gauges as
// themselves, histograms as _bucket{le}, _sum and _count, summaries as
// {quantile}, _sum and _count.
func Series(g prometheus.Gatherer, keep func(name string) bool, ms int64) ([]wire.Series, error) {
	fams, err := g.Gather()
	if err != nil && len(fams) == 0 {
		return nil, fmt.Errorf("selfmetrics: %w", err)
	}
	var out []wire.Series
	add := func(name string, ls []*dto.LabelPair, v float64, extra ...string) {
		labels := make([]wire.Label, 0, len(ls)+2)
		labels = append(labels, wire.Label{Name: "__name__", Value: name})
		for _, l := range ls {
			if l.GetValue() != "" {
				labels = append(labels, wire.Label{Name: l.GetName(), Value: l.GetValue()})
			}
		}
		if len(extra) == 2 {
			labels = append(labels, wire.Label{Name: extra[0], Value: extra[1]})
		}
		slices.SortFunc(labels, func(a, b wire.Label) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, wire.Series{Labels: labels, Samples: []wire.Sample{{Value: v, Timestamp: ms}}})
	}
	for _, f := range fams {
		name := f.GetName()
		if !keep(name) {
			continue
		}
		for _, m := range f.GetMetric() {
			ls := m.GetLabel()
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, ls, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, ls, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, ls, m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					add(name+"_bucket", ls, float64(b.GetCumulativeCount()), "le", formatFloat(b.GetUpperBound()))
				}
				add(name+"_bucket", ls, float64(h.GetSampleCount()), "le", "+Inf")
				add(name+"_sum", ls, h.GetSampleSum())
				add(name+"_count", ls, float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add(name, ls, q.GetValue(), "quantile", formatFloat(q.GetQuantile()))
				}
				add(name+"_sum", ls, s.GetSampleSum())
				add(name+"_count", ls, float64(s.GetSampleCount()))
			}
		}
	}
	return out, nil
}

// formatFloat writes a bound as Prometheus's exposition does.
func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return fmt.Sprint(f)
}

// Prefix keeps the families whose names start with one of prefixes.
func Prefix(prefixes ...string) func(string) bool {
	return func(name string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	}
}
