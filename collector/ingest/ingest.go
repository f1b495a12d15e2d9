// Package ingest receives Prometheus remote-write 1.0 requests from agents,
// stamps the agent's identity and appends to the store. A request that
// cannot be read (auth, size, encoding, limits counted while decoding) is
// refused whole; otherwise its valid series are stored and the bad ones
// refused with a count and the first reasons, so one bad series never
// sinks the others. The samples stored are in the response header
// X-Prometheus-Remote-Write-Samples-Written, as in remote-write 2.0.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"golang.org/x/sync/semaphore"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

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
	opts     Options
	limits   Limits
	metrics  *metrics
	pool     sync.Pool // *state
	cache    *seriesCache
	inflight *semaphore.Weighted // decoded bytes being handled
	agents   *agentLimits

	pushMu   sync.Mutex
	lastPush map[string]time.Time // agent -> its last request that stored samples

	// drillKnown accepts the drill label of a sample (set before serving).
	drillKnown func(id string, ts time.Time) bool
	// sink receives what was stored (set before serving; optional).
	sink func([]wire.Series) error
	// stored is told the targets of probe_success samples stored (set
	// before serving; optional).
	stored func(targets []string)
}

// SetStored sets what is told, after each commit, the targets whose
// probe_success samples were stored (with repeats), so availability is
// re-tallied when results arrive. It must not block. Call it before serving.
func (h *Handler) SetStored(fn func(targets []string)) { h.stored = fn }

// SetSink sets where a copy of every stored sample goes after its commit
// (the InfluxDB sink); a failure there is logged, never refused to the
// agent, which would send again what is already stored. Call it before
// serving.
func (h *Handler) SetSink(sink func([]wire.Series) error) { h.sink = sink }

// SetDrills sets what decides whether a sample labelled drill=id, taken
// at ts, belongs to a drill that ran then; without it every drill label
// is refused. A drill label cannot be claimed outside a drill: it would
// keep an outage from the production on-call. Call it before serving.
func (h *Handler) SetDrills(known func(id string, ts time.Time) bool) { h.drillKnown = known }

// LastPush returns when each agent last delivered samples.
func (h *Handler) LastPush() map[string]time.Time {
	h.pushMu.Lock()
	defer h.pushMu.Unlock()
	out := make(map[string]time.Time, len(h.lastPush))
	for k, v := range h.lastPush {
		out[k] = v
	}
	return out
}

type metrics struct {
	requests *prometheus.CounterVec
	samples  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

// state is the per-request scratch space, pooled up to maxPooled bytes.
type state struct {
	body, decoded []byte
	req           wire.WriteRequest
	builder       labels.ScratchBuilder
}

// maxPooled is the largest buffer kept for the next request: one hostile
// request must not pin its buffers' size for the life of the process.
const maxPooled = 4 << 20

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
			Help: "Samples stored, by agent."}, []string{"agent"}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "ingest", Name: "rejected_requests_total",
			Help: "Requests refused whole, by reason."}, []string{"reason"}),
		refused: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "ingest", Name: "refused_samples_total",
			Help: "Samples refused from requests whose other samples were stored, by reason."}, []string{"reason"}),
	}
	l := opts.Limits.withDefaults()
	return &Handler{opts: opts, limits: l, metrics: m, cache: newSeriesCache(4 << 20),
		inflight: semaphore.NewWeighted(l.MaxInflightBytes), agents: newAgentLimits(l, opts.Now), lastPush: map[string]time.Time{}}, nil
}

// refusal is an error answered with a status code and a reason label.
type refusal struct {
	code       int
	reason     string
	msg        string
	retryAfter time.Duration // for 429
}

func (r *refusal) Error() string { return r.msg }

func refuse(code int, reason, format string, a ...any) *refusal {
	return &refusal{code: code, reason: reason, msg: fmt.Sprintf(format, a...)}
}

// HeaderSamplesWritten is the remote-write 2.0 response header with the
// number of samples stored; agents count the rest of a batch as refused.
const HeaderSamplesWritten = "X-Prometheus-Remote-Write-Samples-Written"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	written, err := h.serve(r)
	code := http.StatusNoContent
	if err != nil {
		code = errCode(err)
	}
	h.metrics.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	w.Header().Set(HeaderSamplesWritten, strconv.Itoa(written))
	if err == nil {
		w.WriteHeader(code)
		return
	}
	var rf *refusal
	if errors.As(err, &rf) {
		if rf.reason != "partial" {
			h.metrics.rejected.WithLabelValues(rf.reason).Inc()
		}
		if rf.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rf.retryAfter.Seconds()))))
		}
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
}

// serve handles one request and returns how many samples it stored.
func (h *Handler) serve(r *http.Request) (int, error) {
	if r.Method != http.MethodPost {
		return 0, refuse(http.StatusMethodNotAllowed, "method", "use POST")
	}
	id, ok := auth.AgentFrom(r.Context())
	if !ok {
		if id, ok = h.opts.Agents.Authenticate(r); !ok {
			return 0, refuse(http.StatusUnauthorized, "unauthorized", "missing or unknown bearer token")
		}
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
		return 0, refuse(http.StatusUnsupportedMediaType, "encoding",
			"Content-Encoding %q is not supported: remote-write bodies are snappy block compressed", enc)
	}
	if ct := r.Header.Get("Content-Type"); !protobufType(ct) {
		return 0, refuse(http.StatusUnsupportedMediaType, "content_type",
			"Content-Type %q is not supported: remote-write bodies are application/x-protobuf", ct)
	}
	if r.ContentLength > h.limits.MaxBodyBytes {
		return 0, refuse(http.StatusRequestEntityTooLarge, "too_large",
			"body of %d bytes exceeds the limit of %d", r.ContentLength, h.limits.MaxBodyBytes)
	}
	if !h.agents.enter(id.Agent) {
		return 0, &refusal{code: http.StatusTooManyRequests, reason: "agent_concurrency", retryAfter: time.Second,
			msg: fmt.Sprintf("agent %s has %d requests being handled, its limit: retry later", id.Agent, h.limits.MaxRequestsPerAgent)}
	}
	defer h.agents.leave(id.Agent)
	// Every byte held for the request, body then decoded, is taken from
	// the in-flight budget before it is read or decoded: many large bodies
	// at once wait their turn instead of all growing at once.
	bud := budget{sem: h.inflight}
	defer bud.release()
	ctx, cancel := context.WithTimeout(r.Context(), inflightWait)
	defer cancel()
	st, _ := h.pool.Get().(*state)
	if st == nil {
		st = &state{}
	}
	defer h.release(st)

	body, err := readBody(ctx, r.Body, r.ContentLength, st.body[:0], h.limits.MaxBodyBytes, &bud)
	st.body = body
	switch {
	case errors.Is(err, errBusy):
		return 0, busy()
	case errors.Is(err, errTooLarge):
		return 0, refuse(http.StatusRequestEntityTooLarge, "too_large",
			"body exceeds the limit of %d bytes", h.limits.MaxBodyBytes)
	case err != nil:
		return 0, refuse(http.StatusBadRequest, "read", "read body: %v", err)
	}
	n, err := wire.DecodedLen(body)
	if err != nil {
		return 0, refuse(http.StatusBadRequest, "snappy", "decode: %v", err)
	}
	if n > h.limits.MaxDecodedBytes {
		return 0, refuse(http.StatusRequestEntityTooLarge, "too_large",
			"decode: snappy: decoded size %d exceeds limit %d", n, h.limits.MaxDecodedBytes)
	}
	if err := bud.take(ctx, bud.held+int64(n)); err != nil {
		return 0, busy()
	}
	lim := wire.Limits{MaxSeries: h.limits.MaxSeriesPerRequest, MaxSamples: h.limits.MaxSamplesPerRequest,
		MaxLabelsPerSeries: h.limits.MaxLabelsPerSeries}
	st.decoded, err = wire.DecodeBody(body, st.decoded, h.limits.MaxDecodedBytes, lim, &st.req)
	if err != nil {
		switch {
		case errors.Is(err, wire.ErrLimit):
			return 0, refuse(http.StatusBadRequest, "limit", "decode: %v", err)
		case strings.HasPrefix(err.Error(), "snappy"):
			return 0, refuse(http.StatusBadRequest, "snappy", "decode: %v", err)
		}
		return 0, refuse(http.StatusBadRequest, "protobuf", "decode: %v", err)
	}
	if ok, wait := h.agents.admit(id.Agent, st.req.Samples()); !ok {
		return 0, &refusal{code: http.StatusTooManyRequests, reason: "rate", retryAfter: wait,
			msg: fmt.Sprintf("agent %s is over its rate of %.0f samples/s: retry after %s", id.Agent, h.limits.SamplesPerSecond, wait.Round(time.Millisecond))}
	}
	written, err := h.append(r.Context(), st, id)
	h.metrics.samples.WithLabelValues(id.Agent).Add(float64(written))
	if written > 0 {
		h.pushMu.Lock()
		h.lastPush[id.Agent] = h.opts.Now()
		h.pushMu.Unlock()
	}
	return written, err
}

// release returns st to the pool unless a large request grew its buffers.
func (h *Handler) release(st *state) {
	if cap(st.body) > maxPooled || cap(st.decoded) > maxPooled || cap(st.req.Series) > h.limits.MaxSeriesPerRequest {
		return
	}
	h.pool.Put(st)
}

func errCode(err error) int {
	var rf *refusal
	if errors.As(err, &rf) {
		return rf.code
	}
	return http.StatusInternalServerError
}
