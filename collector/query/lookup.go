package query

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// The lookups without PromQL: series, label names and label values.

// lookupArgs is what every lookup takes: its match[] selectors, its time
// range and its limit (0: none).
type lookupArgs struct {
	sets       [][]*labels.Matcher
	mint, maxt int64
	limit      int
}

// lookupParams reads a lookup's arguments (at least one selector when
// needMatchers).
func (a *API) lookupParams(r *http.Request, needMatchers bool) (p lookupArgs, err error) {
	if p.sets, err = a.matchers(r, needMatchers); err != nil {
		return lookupArgs{}, err
	}
	if p.mint, p.maxt, err = a.timeRange(r); err != nil {
		return lookupArgs{}, err
	}
	if p.limit, err = parseLimit(r); err != nil {
		return lookupArgs{}, err
	}
	return p, nil
}

// lookup is the prologue of every lookup: it reads the lookup's arguments,
// waits for a query slot (withSlot) and calls do with a querier over the
// time range, closed when do returns.
func (a *API) lookup(r *http.Request, needMatchers bool, do func(context.Context, storage.Querier, lookupArgs) (response, error)) (response, error) {
	p, err := a.lookupParams(r, needMatchers)
	if err != nil {
		return response{}, err
	}
	return a.withSlot(r, func(ctx context.Context) (response, error) {
		q, err := a.opts.Queryable.Querier(p.mint, p.maxt)
		if err != nil {
			return response{}, &apiError{"internal", http.StatusInternalServerError, err}
		}
		defer q.Close()
		return do(ctx, q, p)
	})
}

func (a *API) series(r *http.Request) (response, error) {
	return a.lookup(r, true, a.selectSeries)
}

// selectSeries answers the series matching p.
func (a *API) selectSeries(ctx context.Context, q storage.Querier, p lookupArgs) (response, error) {
	sets, mint, maxt, limit := p.sets, p.mint, p.maxt, p.limit
	hints := &storage.SelectHints{Start: mint, End: maxt, Func: "series"}
	var sets2 []storage.SeriesSet
	for _, ms := range sets {
		sets2 = append(sets2, q.Select(ctx, true, hints, ms...))
	}
	set := storage.NewMergeSeriesSet(sets2, 0, storage.ChainedSeriesMerge)
	var (
		out      []labels.Labels
		warnings annotations.Annotations
		budget   = labelBudget{limit: a.opts.Limits.MaxLabelBytes, g: labelGrowth{Factor: 1}}
	)
	for set.Next() {
		if limit > 0 && len(out) == limit {
			warnings.Add(errTruncated)
			break
		}
		if len(out) >= a.opts.MaxSamples/10 {
			return response{}, &apiError{"execution", http.StatusUnprocessableEntity,
				fmt.Errorf("%w: more than %d series match: narrow match[] or the time range", ErrTooLarge, a.opts.MaxSamples/10)}
		}
		l := set.At().Labels()
		if err := budget.add(l.ByteSize()); err != nil {
			return response{}, execError(err)
		}
		out = append(out, l)
	}
	if err := set.Err(); err != nil {
		return response{}, execError(err)
	}
	warnings.Merge(set.Warnings())
	return response{warnings: warnings, data: func(jw *jsonWriter) {
		jw.raw("[")
		for i, l := range out {
			if i > 0 {
				jw.raw(",")
			}
			jw.labels(l)
			jw.spill()
		}
		jw.raw("]")
	}}, nil
}

func (a *API) labelNames(r *http.Request) (response, error) {
	return a.labelQuery(r, "")
}

func (a *API) labelValues(r *http.Request) (response, error) {
	name := r.PathValue("name")
	if !model.LegacyValidation.IsValidLabelName(name) && name != model.MetricNameLabel {
		return response{}, badData("invalid label name: %q", name)
	}
	return a.labelQuery(r, name)
}

// labelQuery returns label names (name == "") or the values of label name.
func (a *API) labelQuery(r *http.Request, name string) (response, error) {
	return a.lookup(r, false, func(ctx context.Context, q storage.Querier, p lookupArgs) (response, error) {
		return a.labelsOf(ctx, q, p, name)
	})
}

// labelsOf answers the label names (name == "") or the values of label
// name of the series matching p.
func (a *API) labelsOf(ctx context.Context, q storage.Querier, p lookupArgs, name string) (response, error) {
	sets, limit := p.sets, p.limit
	var hints *storage.LabelHints
	if limit > 0 {
		// One more than asked tells whether the answer was cut.
		hints = &storage.LabelHints{Limit: limit + 1}
	}
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	var (
		warnings annotations.Annotations
		bytes    uint64
	)
	for _, ms := range sets {
		var (
			vals []string
			ws   annotations.Annotations
			err  error
		)
		if name == "" {
			vals, ws, err = q.LabelNames(ctx, hints, ms...)
		} else {
			vals, ws, err = q.LabelValues(ctx, name, hints, ms...)
		}
		if err != nil {
			return response{}, execError(err)
		}
		warnings.Merge(ws)
		for _, v := range vals {
			if _, ok := seen[v]; ok {
				continue
			}
			// A value costs its bytes and its place in the set and the answer.
			if bytes += uint64(len(v)) + 64; bytes > a.opts.Limits.MaxLabelBytes {
				return response{}, execError(fmt.Errorf("%w: more than %s of label names or values match (query.max_label_bytes): "+
					"narrow match[] or the time range, or set limit", ErrTooLarge, mib(a.opts.Limits.MaxLabelBytes)))
			}
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
		warnings.Add(errTruncated)
	}
	return response{warnings: warnings, data: func(jw *jsonWriter) {
		jw.raw("[")
		for i, v := range out {
			if i > 0 {
				jw.raw(",")
			}
			jw.str(v)
			jw.spill()
		}
		jw.raw("]")
	}}, nil
}
