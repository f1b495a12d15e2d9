package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// refusals tallies what a request had refused: per reason, and the first
// few messages to tell the agent's operator.
type refusals struct {
	samples, series int
	byReason        map[string]int
	first           []string
	// retryAfter, when set, is when the refused new series may be sent
	// again: the request is answered 429, the stored samples stored.
	retryAfter time.Duration
}

func (rs *refusals) add(reason string, samples int, format string, a ...any) {
	if rs.byReason == nil {
		rs.byReason = map[string]int{}
	}
	rs.samples += samples
	rs.series++
	rs.byReason[reason] += samples
	if len(rs.first) < 3 {
		rs.first = append(rs.first, fmt.Sprintf(format, a...))
	}
}

// append validates each series and stores the valid ones stamped with id.
// It returns the samples stored, and a refusal naming what was not.
func (h *Handler) append(ctx context.Context, st *state, id auth.Identity) (int, error) {
	now := h.opts.Now()
	maxT := now.Add(h.limits.MaxFutureSkew).UnixMilli()
	var rs refusals
	app := h.opts.Store.Appender(ctx)
	appended := 0
	var copies []wire.Series // for the sink
	var kept []wire.Sample
	var results []string // targets of probe_success samples stored, for h.stored
	for i := range st.req.Series {
		s := &st.req.Series[i]
		name, size, reason, err := h.checkSeries(s)
		if err != nil {
			rs.add(reason, max(len(s.Samples), 1), "series %d: %v", i, err)
			continue
		}
		k := key(id.Agent, s.Labels)
		e, hit := h.cache.get(k, id.Agent, s.Labels)
		if !hit {
			// Checked once, on first sight: only accepted series are cached.
			if Reserved(name) {
				rs.add("reserved_name", len(s.Samples), "series %d: %s is a series the collector writes, not an agent", i, name)
				continue
			}
			ok, wait := h.agents.series(id.Agent, k, size)
			switch {
			case !ok && wait > 0:
				rs.add("new_series_rate", len(s.Samples), "series %d (%s): agent %s is over its %d bytes of new series per minute",
					i, name, id.Agent, h.limits.NewSeriesBytesPerMinute)
				rs.retryAfter = max(rs.retryAfter, wait)
				continue
			case !ok:
				rs.add("series_limit", len(s.Samples), "series %d (%s): agent %s created %d series within two hours, its limit",
					i, name, id.Agent, h.limits.MaxSeriesPerAgent)
				continue
			}
			b := &st.builder
			b.Reset()
			for _, lb := range s.Labels {
				if !skipLabel(lb) {
					b.Add(lb.Name, lb.Value)
				}
			}
			b.Add("agent", id.Agent)
			if id.Vantage != "" {
				b.Add("vantage", id.Vantage)
			}
			b.Sort()
			e.lset = b.Labels() // a copy: the incoming strings alias a reused buffer
		}
		lset, ref := e.lset, e.ref
		drill := lset.Get("drill")
		kept = kept[:0]
		before := appended
		for _, smp := range s.Samples {
			if drill != "" && (h.drillKnown == nil || !h.drillKnown(drill, time.UnixMilli(smp.Timestamp))) {
				rs.add("unknown_drill", 1, "series %d (%s): no drill %q ran at %s", i, metricName(s), drill, time.UnixMilli(smp.Timestamp).UTC().Format(time.RFC3339))
				continue
			}
			if smp.Timestamp <= 0 {
				rs.add("invalid_timestamp", 1, "series %d (%s): timestamp %d is not a Unix time in milliseconds", i, metricName(s), smp.Timestamp)
				continue
			}
			if smp.Timestamp > maxT {
				rs.add("future_timestamp", 1, "series %d (%s): timestamp %s is more than %s in the future",
					i, metricName(s), time.UnixMilli(smp.Timestamp).UTC().Format(time.RFC3339), h.limits.MaxFutureSkew)
				continue
			}
			var err error
			ref, err = app.Append(ref, lset, smp.Timestamp, smp.Value)
			switch {
			case err == nil:
				appended++
				if h.sink != nil {
					kept = append(kept, smp)
				}
			case errors.Is(err, storage.ErrOutOfBounds), errors.Is(err, storage.ErrOutOfOrderSample),
				errors.Is(err, storage.ErrTooOldSample), errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
				rs.add("too_old", 1, "%s: %v", lset.String(), err)
			default:
				app.Rollback()
				return 0, fmt.Errorf("append: %w", err)
			}
		}
		if h.stored != nil && appended > before && lset.Get(model.MetricNameLabel) == "probe_success" {
			results = append(results, lset.Get("target"))
		}
		if ref != 0 && (!hit || ref != e.ref) {
			h.cache.put(k, cacheEntry{lset: lset, ref: ref})
		}
		if len(kept) > 0 {
			copies = append(copies, wire.Series{Labels: wireLabels(lset), Samples: slices.Clone(kept)})
		}
	}
	if err := app.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	if len(results) > 0 {
		h.stored(results)
	}
	if len(copies) > 0 {
		if err := h.sink(copies); err != nil {
			h.opts.Logger.Error("the sink refused stored samples", "samples", appended, "err", err)
		}
	}
	if rs.samples == 0 {
		return appended, nil
	}
	for reason, n := range rs.byReason {
		h.metrics.refused.WithLabelValues(reason).Add(float64(n))
	}
	msg := fmt.Sprintf("stored %d samples; refused %d samples of %d series: %s", appended, rs.samples, rs.series, strings.Join(rs.first, "; "))
	if rs.byReason["too_old"] > 0 {
		msg += fmt.Sprintf(" (%d samples outside the accepted time window)", rs.byReason["too_old"])
	}
	if rs.retryAfter > 0 {
		// A batch sent again is stored once: its stored samples are
		// duplicates the store ignores.
		return appended, &refusal{code: http.StatusTooManyRequests, reason: "partial", retryAfter: rs.retryAfter, msg: msg}
	}
	return appended, refuse(http.StatusBadRequest, "partial", "%s", msg)
}

// wireLabels copies lset for the sink (its strings outlive the request).
func wireLabels(lset labels.Labels) []wire.Label {
	out := make([]wire.Label, 0, lset.Len())
	lset.Range(func(l labels.Label) { out = append(out, wire.Label{Name: l.Name, Value: l.Value}) })
	return out
}

// checkSeries returns a series' name and the bytes of its labels as sent,
// or why it cannot be stored, with a reason label.
func (h *Handler) checkSeries(s *wire.Series) (name string, size int, reason string, err error) {
	l := h.limits
	if s.DroppedLabels > 0 {
		return "", 0, "too_many_labels", fmt.Errorf("has %d labels, more than the limit of %d", len(s.Labels)+s.DroppedLabels, l.MaxLabelsPerSeries)
	}
	for j, lb := range s.Labels {
		if err := validLabel(lb, l); err != nil {
			return "", 0, "invalid_label", err
		}
		if j > 0 && s.Labels[j-1].Name >= lb.Name {
			return "", 0, "unsorted_labels", fmt.Errorf("labels must be sorted by name and unique (%q after %q)", lb.Name, s.Labels[j-1].Name)
		}
		if lb.Name == model.MetricNameLabel {
			name = lb.Value
		}
		size += len(lb.Name) + len(lb.Value)
	}
	if !validMetricName(name) {
		return "", 0, "invalid_metric_name", fmt.Errorf("metric name %q is missing or invalid", name)
	}
	if size > l.MaxSeriesLabelsBytes {
		return "", 0, "series_too_large", fmt.Errorf("(%s) has %d bytes of labels, more than the limit of %d", name, size, l.MaxSeriesLabelsBytes)
	}
	if len(s.Samples) == 0 {
		return "", 0, "no_samples", fmt.Errorf("(%s) has no samples", name)
	}
	return name, size, "", nil
}

func metricName(s *wire.Series) string {
	for _, lb := range s.Labels {
		if lb.Name == model.MetricNameLabel {
			return lb.Value
		}
	}
	return ""
}

func validLabel(lb wire.Label, l Limits) error {
	if !validLabelName(lb.Name) {
		return fmt.Errorf("invalid label name %q", lb.Name)
	}
	if len(lb.Name) > l.MaxLabelNameLength {
		return fmt.Errorf("label name %.32q... is longer than %d bytes", lb.Name, l.MaxLabelNameLength)
	}
	if len(lb.Value) > l.MaxLabelValueLength {
		return fmt.Errorf("value of label %q is longer than %d bytes", lb.Name, l.MaxLabelValueLength)
	}
	if !utf8.ValidString(lb.Value) {
		return fmt.Errorf("value of label %q is not valid UTF-8", lb.Name)
	}
	return nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
