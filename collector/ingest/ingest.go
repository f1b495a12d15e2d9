// Package ingest receives Prometheus remote-write 1.0 requests from agents,
// validates every series before storing any, stamps the agent's identity
// and appends to the store. A request is accepted whole or refused whole
// with a 4xx that says why; nothing accepted earlier is affected.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Limits bound what one request may carry.
type Limits struct {
	MaxBodyBytes        int64         `yaml:"max_body_bytes"`         // compressed (default 8 MiB)
	MaxDecodedBytes     int           `yaml:"max_decoded_bytes"`      // after snappy (default 64 MiB)
	MaxSeriesPerRequest int           `yaml:"max_series_per_request"` // default 10,000
	MaxLabelsPerSeries  int           `yaml:"max_labels_per_series"`  // default 32, before stamping
	MaxLabelNameLength  int           `yaml:"max_label_name_length"`  // default 128
	MaxLabelValueLength int           `yaml:"max_label_value_length"` // default 2048
	MaxFutureSkew       time.Duration `yaml:"max_future_skew"`        // default 10m
}

// DefaultLimits are used for zero fields.
var DefaultLimits = Limits{
	MaxBodyBytes:        8 << 20,
	MaxDecodedBytes:     64 << 20,
	MaxSeriesPerRequest: 10_000,
	MaxLabelsPerSeries:  32,
	MaxLabelNameLength:  128,
	MaxLabelValueLength: 2048,
	MaxFutureSkew:       10 * time.Minute,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBodyBytes > 0 {
		d.MaxBodyBytes = l.MaxBodyBytes
	}
	if l.MaxDecodedBytes > 0 {
		d.MaxDecodedBytes = l.MaxDecodedBytes
	}
	if l.MaxSeriesPerRequest > 0 {
		d.MaxSeriesPerRequest = l.MaxSeriesPerRequest
	}
	if l.MaxLabelsPerSeries > 0 {
		d.MaxLabelsPerSeries = l.MaxLabelsPerSeries
	}
	if l.MaxLabelNameLength > 0 {
		d.MaxLabelNameLength = l.MaxLabelNameLength
	}
	if l.MaxLabelValueLength > 0 {
		d.MaxLabelValueLength = l.MaxLabelValueLength
	}
	if l.MaxFutureSkew > 0 {
		d.MaxFutureSkew = l.MaxFutureSkew
	}
	return d
}

// Options configure a Handler.
type Options struct {
	Store      storage.Appendable
	Agents     *auth.Agents
	Limits     Limits
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Handler serves POST /api/v1/write.
type Handler struct {
	opts    Options
	limits  Limits
	metrics *metrics
	pool    sync.Pool // *state
	cache   *seriesCache
}

type metrics struct {
	requests *prometheus.CounterVec
	samples  *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

// state is the per-request scratch space, pooled.
type state struct {
	body, decoded []byte
	req           wire.WriteRequest
	builder       labels.ScratchBuilder
}

// New validates opts and returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Agents == nil {
		return nil, errors.New("ingest: Store and Agents are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f := promauto.With(opts.Registerer)
	m := &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "ingest", Name: "requests_total",
			Help: "Remote-write requests by HTTP status code."}, []string{"code"}),
		samples: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "ingest", Name: "samples_total",
			Help: "Samples received, by agent."}, []string{"agent"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "ingest", Name: "rejected_requests_total",
			Help: "Requests refused, by reason."}, []string{"reason"}),
	}
	return &Handler{opts: opts, limits: opts.Limits.withDefaults(), metrics: m, cache: newSeriesCache(4 << 20)}, nil
}

// refusal is an error answered with a status code and a reason label.
type refusal struct {
	code   int
	reason string
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func refuse(code int, reason, format string, a ...any) *refusal {
	return &refusal{code: code, reason: reason, msg: fmt.Sprintf(format, a...)}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, err := h.serve(r)
	h.metrics.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	if err != nil {
		var rf *refusal
		if errors.As(err, &rf) {
			h.metrics.rejected.WithLabelValues(rf.reason).Inc()
		}
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bulwark"`)
		}
		if code >= 500 {
			h.opts.Logger.Error("ingest failed", "err", err)
		} else {
			h.opts.Logger.Debug("ingest refused", "code", code, "err", err)
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(code)
}

func (h *Handler) serve(r *http.Request) (int, error) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, refuse(http.StatusMethodNotAllowed, "method", "use POST")
	}
	id, ok := h.opts.Agents.Authenticate(r)
	if !ok {
		return http.StatusUnauthorized, refuse(http.StatusUnauthorized, "unauthorized", "missing or unknown bearer token")
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
		return http.StatusUnsupportedMediaType, refuse(http.StatusUnsupportedMediaType, "encoding",
			"Content-Encoding %q is not supported: remote-write bodies are snappy block compressed", enc)
	}
	if r.ContentLength > h.limits.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, refuse(http.StatusRequestEntityTooLarge, "too_large",
			"body of %d bytes exceeds the limit of %d", r.ContentLength, h.limits.MaxBodyBytes)
	}
	st, _ := h.pool.Get().(*state)
	if st == nil {
		st = &state{}
	}
	defer h.pool.Put(st)

	body, err := readAll(io.LimitReader(r.Body, h.limits.MaxBodyBytes+1), st.body[:0])
	st.body = body
	if err != nil {
		return http.StatusBadRequest, refuse(http.StatusBadRequest, "read", "read body: %v", err)
	}
	if int64(len(body)) > h.limits.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, refuse(http.StatusRequestEntityTooLarge, "too_large",
			"body exceeds the limit of %d bytes", h.limits.MaxBodyBytes)
	}
	st.decoded, err = wire.DecodeBody(body, st.decoded, h.limits.MaxDecodedBytes, &st.req)
	if err != nil {
		reason := "protobuf"
		if strings.HasPrefix(err.Error(), "snappy") {
			reason = "snappy"
		}
		return http.StatusBadRequest, refuse(http.StatusBadRequest, reason, "decode: %v", err)
	}
	if err := h.validate(&st.req); err != nil {
		return http.StatusBadRequest, err
	}
	n, err := h.append(r.Context(), st, id)
	h.metrics.samples.WithLabelValues(id.Agent).Add(float64(n))
	if err != nil {
		return errCode(err), err
	}
	return http.StatusNoContent, nil
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// validate checks every series before anything is stored.
func (h *Handler) validate(req *wire.WriteRequest) error {
	l := h.limits
	if len(req.Series) > l.MaxSeriesPerRequest {
		return refuse(http.StatusBadRequest, "too_many_series",
			"%d series in one request exceed the limit of %d", len(req.Series), l.MaxSeriesPerRequest)
	}
	now := h.opts.Now()
	maxT := now.Add(l.MaxFutureSkew).UnixMilli()
	for i := range req.Series {
		s := &req.Series[i]
		if len(s.Labels) > l.MaxLabelsPerSeries {
			return refuse(http.StatusBadRequest, "too_many_labels",
				"series %d has %d labels, more than the limit of %d", i, len(s.Labels), l.MaxLabelsPerSeries)
		}
		name := ""
		for j, lb := range s.Labels {
			if err := validLabel(lb, l); err != nil {
				return refuse(http.StatusBadRequest, "invalid_label", "series %d: %v", i, err)
			}
			if j > 0 && s.Labels[j-1].Name >= lb.Name {
				return refuse(http.StatusBadRequest, "unsorted_labels",
					"series %d: labels must be sorted by name and unique (%q after %q)", i, lb.Name, s.Labels[j-1].Name)
			}
			if lb.Name == model.MetricNameLabel {
				name = lb.Value
			}
		}
		if !validMetricName(name) {
			return refuse(http.StatusBadRequest, "invalid_metric_name", "series %d: metric name %q is missing or invalid", i, name)
		}
		if len(s.Samples) == 0 {
			return refuse(http.StatusBadRequest, "no_samples", "series %d (%s) has no samples", i, name)
		}
		for _, smp := range s.Samples {
			if smp.Timestamp <= 0 {
				return refuse(http.StatusBadRequest, "invalid_timestamp",
					"series %d (%s): timestamp %d is not a Unix time in milliseconds", i, name, smp.Timestamp)
			}
			if smp.Timestamp > maxT {
				return refuse(http.StatusBadRequest, "future_timestamp",
					"series %d (%s): timestamp %s is more than %s in the future",
					i, name, time.UnixMilli(smp.Timestamp).UTC().Format(time.RFC3339), l.MaxFutureSkew)
			}
		}
	}
	return nil
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

// append stores the validated request stamped with id. Samples that the
// store refuses as too old or out of bounds are skipped and reported; any
// other storage error rolls the whole request back.
func (h *Handler) append(ctx context.Context, st *state, id auth.Identity) (int, error) {
	app := h.opts.Store.Appender(ctx)
	var tooOld, appended int
	var firstOld error
	for i := range st.req.Series {
		s := &st.req.Series[i]
		k := key(id.Agent, s.Labels)
		e, hit := h.cache.get(k, id.Agent, s.Labels)
		if !hit {
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
		for _, smp := range s.Samples {
			var err error
			ref, err = app.Append(ref, lset, smp.Timestamp, smp.Value)
			switch {
			case err == nil:
				appended++
			case errors.Is(err, storage.ErrOutOfBounds), errors.Is(err, storage.ErrOutOfOrderSample),
				errors.Is(err, storage.ErrTooOldSample), errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
				tooOld++
				if firstOld == nil {
					firstOld = fmt.Errorf("%s: %w", lset.String(), err)
				}
			default:
				app.Rollback()
				return 0, fmt.Errorf("append: %w", err)
			}
		}
		if ref != 0 && (!hit || ref != e.ref) {
			h.cache.put(k, cacheEntry{lset: lset, ref: ref})
		}
	}
	if err := app.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	if tooOld > 0 {
		return appended, refuse(http.StatusBadRequest, "too_old",
			"stored %d samples, refused %d outside the accepted time window, first: %v", appended, tooOld, firstOld)
	}
	return appended, nil
}

func errCode(err error) int {
	var rf *refusal
	if errors.As(err, &rf) {
		return rf.code
	}
	return http.StatusInternalServerError
}
