// Package query serves the subset of the Prometheus HTTP API that Grafana's
// Prometheus data source and promtool use, in the same JSON shapes:
// /api/v1/query, query_range, series, labels and label/<name>/values.
package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Options configure an API.
type Options struct {
	Queryable storage.Queryable
	Logger    *slog.Logger
	// Registerer receives the engine's metrics (optional).
	Registerer prometheus.Registerer
	// Timeout bounds a query (default 30s); MaxSamples bounds what it
	// loads at once (default 5M, some 100-300 MB); MaxConcurrent bounds the
	// queries evaluated at once (default 8): more wait, within their timeout.
	Timeout       time.Duration
	MaxSamples    int
	MaxConcurrent int
	// LogFile, when set, receives one JSON line per query (who, what, how long).
	LogFile string
	// LookbackDelta is how far back an instant selector looks (default 5m).
	LookbackDelta time.Duration
	// Limits bounds what a request may make the collector hold.
	Limits Limits
}

// API is the query HTTP API.
type API struct {
	opts   Options
	engine *promql.Engine
	parser parser.Parser
	gate   chan struct{}
	// reading bounds the request bodies read at once.
	reading chan struct{}
	qlog    *queryLog
}

// New returns an API over opts.Queryable.
func New(opts Options) (*API, error) {
	if opts.Queryable == nil {
		return nil, errors.New("query: Queryable is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 5_000_000
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 8
	}
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = 5 * time.Minute
	}
	opts.Limits = opts.Limits.withDefaults()
	p := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{
		Logger:               opts.Logger,
		Reg:                  opts.Registerer,
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.Timeout,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		Parser:               p,
	})
	ql, err := openQueryLog(opts.LogFile)
	if err != nil {
		return nil, err
	}
	return &API{opts: opts, engine: engine, parser: p, gate: make(chan struct{}, opts.MaxConcurrent),
		reading: make(chan struct{}, 4*opts.MaxConcurrent), qlog: ql}, nil
}

// Engine returns the PromQL engine (the console and tests evaluate with it).
func (a *API) Engine() *promql.Engine { return a.engine }

// Register adds the API's routes to mux.
func (a *API) Register(mux interface {
	HandleFunc(string, func(http.ResponseWriter, *http.Request))
}) {
	mux.HandleFunc("/api/v1/query", a.wrap(a.query))
	mux.HandleFunc("/api/v1/query_range", a.wrap(a.queryRange))
	mux.HandleFunc("/api/v1/series", a.wrap(a.series))
	mux.HandleFunc("/api/v1/labels", a.wrap(a.labelNames))
	mux.HandleFunc("/api/v1/label/{name}/values", a.wrap(a.labelValues))
	mux.HandleFunc("/api/v1/status/buildinfo", a.wrap(a.buildInfo))
	mux.HandleFunc("/api/v1/metadata", a.wrap(a.metadata))
	mux.HandleFunc("/api/v1/query_exemplars", a.wrap(a.queryExemplars))
	mux.HandleFunc("/api/v1/format_query", a.wrap(a.formatQuery))
}

// apiError is an error with a Prometheus errorType and HTTP status.
type apiError struct {
	typ    string
	status int
	err    error
}

func (e *apiError) Error() string { return e.err.Error() }

func badData(format string, a ...any) *apiError {
	return &apiError{"bad_data", http.StatusBadRequest, fmt.Errorf(format, a...)}
}

// response is what a handler produces: data written by writeData, and warnings.
type response struct {
	data     func(*jsonWriter)
	warnings annotations.Annotations
	// done, if set, is called once the answer is written.
	done func()
}

// holdSlot keeps a query slot until the answer is written, so the answers
// held for slow readers count against max_concurrent too; on error the
// slot is freed at once.
func holdSlot(res *response, err *error, release func()) {
	if *err != nil {
		release()
		return
	}
	res.done = release
}

func (a *API) wrap(h func(*http.Request) (response, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			writeError(w, &apiError{"bad_data", http.StatusMethodNotAllowed, errors.New("use GET or POST")})
			return
		}
		if err := a.parseForm(w, r); err != nil {
			writeError(w, err)
			return
		}
		res, err := h(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if res.done != nil {
			defer res.done()
		}
		// The answer is streamed: a large result is not held twice.
		w.Header().Set("Content-Type", "application/json")
		jw := jsonWriter{out: w}
		jw.raw(`{"status":"success","data":`)
		res.data(&jw)
		if ws, _ := res.warnings.AsStrings("", 10, 10); len(ws) > 0 {
			jw.raw(`,"warnings":[`)
			for i, s := range ws {
				if i > 0 {
					jw.raw(",")
				}
				jw.str(s)
			}
			jw.raw("]")
		}
		jw.raw("}")
		jw.flush()
	}
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{"internal", http.StatusInternalServerError, err}
	}
	var jw jsonWriter
	jw.raw(`{"status":"error","errorType":`)
	jw.str(ae.typ)
	jw.raw(`,"error":`)
	jw.str(ae.err.Error())
	jw.raw("}")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.status)
	w.Write(jw.b)
}

func (a *API) query(r *http.Request) (response, error) {
	ts, err := parseTimeParam(r, "time", time.Now())
	if err != nil {
		return response{}, err
	}
	return a.evaluate(r, func(ctx context.Context, qb storage.Queryable, qs string) (promql.Query, error) {
		return a.engine.NewInstantQuery(ctx, qb, promql.NewPrometheusQueryOpts(false, 0, nil), qs, ts)
	})
}

// maxPoints is the most points a range query may return per series.
const maxPoints = 11000

func (a *API) queryRange(r *http.Request) (response, error) {
	start, err := parseTime(r.FormValue("start"), "start")
	if err != nil {
		return response{}, err
	}
	end, err := parseTime(r.FormValue("end"), "end")
	if err != nil {
		return response{}, err
	}
	if end.Before(start) {
		return response{}, badData("end timestamp must not be before start time")
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return response{}, badData("invalid parameter \"step\": %v", err)
	}
	if step <= 0 {
		return response{}, badData("zero or negative query resolution step widths are not accepted. Try a positive integer")
	}
	if end.Sub(start)/step > maxPoints {
		return response{}, badData("exceeded maximum resolution of %d points per timeseries. Try decreasing the query resolution (?step=XX)", maxPoints)
	}
	return a.evaluate(r, func(ctx context.Context, qb storage.Queryable, qs string) (promql.Query, error) {
		return a.engine.NewRangeQuery(ctx, qb, promql.NewPrometheusQueryOpts(false, 0, nil), qs, start, end, step)
	})
}

// evaluate is the prologue of query and query_range: it checks the query
// text, waits for a query slot (withSlot), makes the query with newQuery
// over the storage that charges its label bytes, and executes it.
func (a *API) evaluate(r *http.Request, newQuery func(context.Context, storage.Queryable, string) (promql.Query, error)) (response, error) {
	qs := r.FormValue("query")
	qb, err := a.budget(qs)
	if err != nil {
		return response{}, err
	}
	return a.withSlot(r, func(ctx context.Context) (response, error) {
		q, err := newQuery(ctx, qb, qs)
		if err != nil {
			return response{}, badData("%v", err)
		}
		return a.exec(ctx, q)
	})
}

// withSlot bounds the request by its timeout, waits for a query slot
// (timeoutCtx) and calls do; the slot is held until the answer is written
// (holdSlot).
func (a *API) withSlot(r *http.Request, do func(context.Context) (response, error)) (res response, err error) {
	ctx, cancel, err := a.timeoutCtx(r)
	if err != nil {
		return response{}, err
	}
	defer holdSlot(&res, &err, cancel)
	return do(ctx)
}

// timeoutCtx bounds a request by its timeout parameter, never past the
// configured timeout, and waits (within that) for a free query slot; cancel
// frees the slot.
func (a *API) timeoutCtx(r *http.Request) (context.Context, context.CancelFunc, error) {
	d := a.opts.Timeout
	if t := r.FormValue("timeout"); t != "" {
		td, err := parseDuration(t)
		if err != nil {
			return nil, nil, badData("invalid parameter \"timeout\": %v", err)
		}
		d = min(d, td)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	select {
	case a.gate <- struct{}{}:
	case <-ctx.Done():
		cancel()
		return nil, nil, &apiError{"timeout", http.StatusServiceUnavailable,
			fmt.Errorf("no query slot free within %s (%d queries run at once)", d, cap(a.gate))}
	}
	return ctx, func() { cancel(); <-a.gate }, nil
}

func (a *API) exec(ctx context.Context, q promql.Query) (response, error) {
	start := time.Now()
	res := q.Exec(ctx)
	a.qlog.record(ctx, q, time.Since(start), res.Err)
	if res.Err != nil {
		q.Close()
		return response{}, execError(res.Err)
	}
	return response{warnings: res.Warnings, data: func(jw *jsonWriter) {
		defer q.Close()
		writeValue(jw, res.Value)
	}}, nil
}

func execError(err error) error {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
		storErr  promql.ErrStorage
	)
	switch {
	case errors.Is(err, ErrTooLarge):
		return &apiError{"execution", http.StatusUnprocessableEntity, err}
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{"timeout", http.StatusServiceUnavailable, err}
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiError{"canceled", http.StatusServiceUnavailable, err}
	case errors.As(err, &storErr):
		return &apiError{"internal", http.StatusInternalServerError, err}
	}
	return &apiError{"execution", http.StatusUnprocessableEntity, err}
}

func (a *API) matchers(r *http.Request, required bool) ([][]*labels.Matcher, error) {
	ms := r.Form["match[]"]
	if len(ms) == 0 {
		if required {
			return nil, badData("no match[] parameter provided")
		}
		return nil, nil
	}
	sets, err := a.parser.ParseMetricSelectors(ms)
	if err != nil {
		return nil, badData("invalid parameter \"match[]\": %v", err)
	}
	return sets, nil
}

func (a *API) timeRange(r *http.Request) (int64, int64, error) {
	start, err := parseTimeParam(r, "start", time.UnixMilli(math.MinInt64/2))
	if err != nil {
		return 0, 0, err
	}
	end, err := parseTimeParam(r, "end", time.UnixMilli(math.MaxInt64/2))
	if err != nil {
		return 0, 0, err
	}
	return start.UnixMilli(), end.UnixMilli(), nil
}

// Version is Bulwark's version, set by the command at start.
var Version = "dev"

// buildInfo says what this server is. Grafana's Prometheus data source
// reads "version" to decide which features to use, so that field stays a
// Prometheus version whose API this one follows (2.42: no native
// histograms, no UTF-8 names); "application" and "revision" say it is
// Bulwark, and which.
func (a *API) buildInfo(*http.Request) (response, error) {
	return response{data: func(jw *jsonWriter) {
		jw.raw(`{"version":"2.42.0","application":"bulwark","revision":`)
		jw.str("bulwark-" + Version)
		jw.raw(`,"branch":"","buildUser":"","buildDate":"","goVersion":`)
		jw.str(strings.TrimPrefix(goVersion(), "go"))
		jw.raw("}")
	}}, nil
}

func parseTimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	return parseTime(v, name)
}

// parseTime reads a Unix time in (fractional) seconds or RFC 3339.
func parseTime(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, badData("invalid parameter %q: missing", name)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
			return time.Time{}, badData("invalid parameter %q: %q is out of range", name, s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, badData("invalid parameter %q: cannot parse %q to a valid timestamp", name, s)
}

// parseDuration reads seconds ("15", "0.5") or a Prometheus duration ("15s", "1m").
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f*float64(time.Second) > math.MaxInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
	}
	return time.Duration(d), nil
}
