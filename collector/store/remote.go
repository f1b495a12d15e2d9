package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// Remote reads raw samples from a shared store's HTTP API (VictoriaMetrics:
// /api/v1/export, /api/v1/labels, /api/v1/label/NAME/values, single node or
// vmselect's prefix), so the collector's own PromQL engine, rules and
// reports answer from what every collector of a cluster forwarded. One
// select holds at most MaxSamples samples while it is decoded.
type Remote struct {
	// URL is the store's base, e.g. http://vm:8428 or
	// http://vmselect:8481/select/0/prometheus.
	URL string
	// Token, when set, is sent as a bearer token.
	Token string
	// MaxSamples bounds one select (default 50 M, the engine's own bound
	// applies after it); MaxBytes the answer read for it (default 256 MiB).
	MaxSamples int
	MaxBytes   int64
	Client     *http.Client
}

// Querier reads [mint, maxt].
func (r *Remote) Querier(mint, maxt int64) (storage.Querier, error) {
	return &remoteQuerier{r: r, mint: mint, maxt: maxt}, nil
}

type remoteQuerier struct {
	r          *Remote
	mint, maxt int64
}

func (q *remoteQuerier) Close() error { return nil }

// selector is matchers in PromQL's syntax.
func selector(ms []*labels.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Name + m.Type.String() + strconv.Quote(m.Value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// get asks path with the matchers and range, and hands the body to read.
func (q *remoteQuerier) get(ctx context.Context, path string, v url.Values, ms []*labels.Matcher, read func(io.Reader) error) error {
	if len(ms) > 0 {
		v.Set("match[]", selector(ms))
	}
	v.Set("start", strconv.FormatFloat(float64(q.mint)/1000, 'f', 3, 64))
	v.Set("end", strconv.FormatFloat(float64(q.maxt)/1000, 'f', 3, 64))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(q.r.URL, "/")+path, strings.NewReader(v.Encode()))
	if err != nil {
		return fmt.Errorf("remote store: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if q.r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+q.r.Token)
	}
	c := q.r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("remote store %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("remote store %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return read(resp.Body)
}

// Select reads every matching series' raw samples in the range.
func (q *remoteQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	limit := q.r.MaxSamples
	if limit <= 0 {
		limit = 50_000_000
	}
	var series []storage.Series
	n := 0
	maxBytes := q.r.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 256 << 20
	}
	err := q.get(ctx, "/api/v1/export", url.Values{}, ms, func(body io.Reader) error {
		dec := json.NewDecoder(&boundedReader{r: body, left: maxBytes})
		for {
			var line struct {
				Metric     map[string]string `json:"metric"`
				Values     []json.Number     `json:"values"`
				Timestamps []int64           `json:"timestamps"`
			}
			if err := dec.Decode(&line); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("remote store: export: %w", err)
			}
			if len(line.Values) != len(line.Timestamps) {
				return fmt.Errorf("remote store: export: %d values for %d timestamps", len(line.Values), len(line.Timestamps))
			}
			if n += len(line.Values); n > limit {
				return fmt.Errorf("remote store: a select reads more than %d samples", limit)
			}
			samples := make([]chunks.Sample, 0, len(line.Values))
			for i, v := range line.Values {
				f, err := strconv.ParseFloat(string(v), 64)
				if err != nil {
					return fmt.Errorf("remote store: export: value %q: %w", v, err)
				}
				samples = append(samples, fSample{t: line.Timestamps[i], f: f})
			}
			slices.SortFunc(samples, func(a, b chunks.Sample) int { return cmp.Compare(a.T(), b.T()) })
			series = append(series, storage.NewListSeries(labels.FromMap(line.Metric), samples))
		}
	})
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if sortSeries {
		slices.SortFunc(series, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &listSet{series: series, i: -1}
}

// LabelValues lists a label's values among the matching series.
func (q *remoteQuerier) LabelValues(ctx context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var out []string
	err := q.get(ctx, "/api/v1/label/"+url.PathEscape(name)+"/values", url.Values{}, ms, decodeData(&out))
	return out, nil, err
}

// LabelNames lists the label names of the matching series.
func (q *remoteQuerier) LabelNames(ctx context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	var out []string
	err := q.get(ctx, "/api/v1/labels", url.Values{}, ms, decodeData(&out))
	return out, nil, err
}

// decodeData reads a Prometheus API answer's data (at most 64 MiB).
func decodeData(out *[]string) func(io.Reader) error {
	return func(r io.Reader) error {
		var resp struct {
			Status string   `json:"status"`
			Data   []string `json:"data"`
			Error  string   `json:"error"`
		}
		if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&resp); err != nil {
			return fmt.Errorf("remote store: %w", err)
		}
		if resp.Status != "success" {
			return fmt.Errorf("remote store: %s", resp.Error)
		}
		slices.Sort(resp.Data)
		*out = resp.Data
		return nil
	}
}

// boundedReader fails, rather than truncates, past its bound.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("the answer is larger than its bound (query.max_samples, 256 MiB)")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// fSample is one float sample.
type fSample struct {
	t int64
	f float64
}

func (s fSample) T() int64                      { return s.t }
func (s fSample) ST() int64                     { return 0 }
func (s fSample) F() float64                    { return s.f }
func (s fSample) H() *histogram.Histogram       { return nil }
func (s fSample) FH() *histogram.FloatHistogram { return nil }
func (s fSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fSample) Copy() chunks.Sample           { return s }

// listSet iterates series held in memory.
type listSet struct {
	series []storage.Series
	i      int
}

func (s *listSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *listSet) At() storage.Series                { return s.series[s.i] }
func (s *listSet) Err() error                        { return nil }
func (s *listSet) Warnings() annotations.Annotations { return nil }

// Merged answers from the local store and the remote one together: the
// remote's failure is a warning on a partial answer, never an error, and
// samples both hold are counted once.
type Merged struct {
	Local  storage.Queryable
	Remote storage.Queryable
}

// Querier reads [mint, maxt] from both.
func (m Merged) Querier(mint, maxt int64) (storage.Querier, error) {
	l, err := m.Local.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	r, err := m.Remote.Querier(mint, maxt)
	if err != nil {
		l.Close()
		return nil, err
	}
	return &mergedQuerier{l: l, r: r}, nil
}

type mergedQuerier struct{ l, r storage.Querier }

// Select merges both answers, sorted, each series' samples deduplicated.
func (m *mergedQuerier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return storage.NewMergeSeriesSet([]storage.SeriesSet{
		m.l.Select(ctx, true, hints, ms...),
		&warnOnError{SeriesSet: m.r.Select(ctx, true, hints, ms...)},
	}, 0, storage.ChainedSeriesMerge)
}

func (m *mergedQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return m.union(func(q storage.Querier) ([]string, annotations.Annotations, error) {
		return q.LabelValues(ctx, name, hints, ms...)
	})
}

func (m *mergedQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return m.union(func(q storage.Querier) ([]string, annotations.Annotations, error) {
		return q.LabelNames(ctx, hints, ms...)
	})
}

// union is the sorted union of both answers; the remote's error a warning.
func (m *mergedQuerier) union(f func(storage.Querier) ([]string, annotations.Annotations, error)) ([]string, annotations.Annotations, error) {
	l, ws, err := f(m.l)
	if err != nil {
		return nil, ws, err
	}
	r, rws, err := f(m.r)
	ws.Merge(rws)
	if err != nil {
		ws.Add(err)
	}
	out := append(l, r...)
	slices.Sort(out)
	return slices.Compact(out), ws, nil
}

func (m *mergedQuerier) Close() error { return errors.Join(m.l.Close(), m.r.Close()) }

// warnOnError turns a series set's error into a warning: an answer from
// the local store alone, said to be partial.
type warnOnError struct{ storage.SeriesSet }

func (w *warnOnError) Err() error { return nil }

func (w *warnOnError) Warnings() annotations.Annotations {
	ws := w.SeriesSet.Warnings()
	if err := w.SeriesSet.Err(); err != nil {
		ws.Add(fmt.Errorf("partial answer: %w", err))
	}
	return ws
}

var (
	_ storage.Queryable = (*Remote)(nil)
	_ storage.Queryable = Merged{}
)
