package ingest

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what one request, and one agent, may carry.
type Limits struct {
	MaxBodyBytes         int64         `yaml:"max_body_bytes"`          // compressed (default 8 MiB)
	MaxDecodedBytes      int           `yaml:"max_decoded_bytes"`       // after snappy (default 16 MiB)
	MaxSeriesPerRequest  int           `yaml:"max_series_per_request"`  // default 10,000, counted while decoding
	MaxSamplesPerRequest int           `yaml:"max_samples_per_request"` // default 100,000, counted while decoding
	MaxLabelsPerSeries   int           `yaml:"max_labels_per_series"`   // default 32, before stamping
	MaxLabelNameLength   int           `yaml:"max_label_name_length"`   // default 128
	MaxLabelValueLength  int           `yaml:"max_label_value_length"`  // default 1024
	MaxFutureSkew        time.Duration `yaml:"max_future_skew"`         // default 10m
	// MaxSeriesLabelsBytes bounds the bytes of one series' label names and
	// values as sent, before stamping (default 4096).
	MaxSeriesLabelsBytes int `yaml:"max_series_labels_bytes"`
	// MaxInflightBytes bounds the bytes of all requests being handled at
	// once, bodies (taken by their Content-Length before they are read)
	// and decoded (default 128 MiB); a request that does not fit waits, and
	// is answered 429 with Retry-After when it gets no room within 5 s.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// SamplesPerSecond and Burst bound each agent's write rate (default
	// 100,000/s, burst 1,000,000: an agent catching up on a day's queue
	// delivers it in minutes); over it, 429 with Retry-After.
	SamplesPerSecond float64 `yaml:"samples_per_second"`
	Burst            int     `yaml:"burst"`
	// MaxSeriesPerAgent bounds the new series one agent may create within
	// two hours (default 200,000); new series past it are refused.
	MaxSeriesPerAgent int `yaml:"max_series_per_agent"`
	// NewSeriesBytesPerMinute bounds the label bytes of the new series one
	// agent may create per minute (default 1 MiB), with a burst of 16
	// minutes' worth; over it, the new series wait: the known ones are
	// stored and the answer is 429 with Retry-After.
	NewSeriesBytesPerMinute int `yaml:"new_series_bytes_per_minute"`
	// MaxRequestsPerAgent bounds one agent's requests handled at once
	// (default 4); more are answered 429 with Retry-After at once, before
	// their bodies are read.
	MaxRequestsPerAgent int `yaml:"max_requests_per_agent"`
}

// newSeriesBurstMinutes is how many minutes of NewSeriesBytesPerMinute an
// agent may spend at once: a restarted collector sees every series anew.
const newSeriesBurstMinutes = 16

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:         8 << 20,
		MaxDecodedBytes:      16 << 20,
		MaxSeriesPerRequest:  10_000,
		MaxSamplesPerRequest: 100_000,
		MaxLabelsPerSeries:   32,
		MaxLabelNameLength:   128,
		MaxLabelValueLength:  1024,
		MaxSeriesLabelsBytes: 4096,
		MaxFutureSkew:        10 * time.Minute,
		MaxInflightBytes:     128 << 20,
		SamplesPerSecond:     100_000,
		Burst:                1_000_000,
		MaxSeriesPerAgent:    200_000,

		NewSeriesBytesPerMinute: 1 << 20,
		MaxRequestsPerAgent:     4,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	if l.MaxBodyBytes > 0 {
		d.MaxBodyBytes = l.MaxBodyBytes
	}
	set(&d.MaxDecodedBytes, l.MaxDecodedBytes)
	set(&d.MaxSeriesPerRequest, l.MaxSeriesPerRequest)
	set(&d.MaxSamplesPerRequest, l.MaxSamplesPerRequest)
	set(&d.MaxLabelsPerSeries, l.MaxLabelsPerSeries)
	set(&d.MaxLabelNameLength, l.MaxLabelNameLength)
	set(&d.MaxLabelValueLength, l.MaxLabelValueLength)
	set(&d.Burst, l.Burst)
	set(&d.MaxSeriesPerAgent, l.MaxSeriesPerAgent)
	set(&d.MaxSeriesLabelsBytes, l.MaxSeriesLabelsBytes)
	set(&d.NewSeriesBytesPerMinute, l.NewSeriesBytesPerMinute)
	set(&d.MaxRequestsPerAgent, l.MaxRequestsPerAgent)
	if l.MaxFutureSkew > 0 {
		d.MaxFutureSkew = l.MaxFutureSkew
	}
	if l.MaxInflightBytes > 0 {
		d.MaxInflightBytes = l.MaxInflightBytes
	}
	if l.SamplesPerSecond > 0 {
		d.SamplesPerSecond = l.SamplesPerSecond
	}
	// A request must fit in the in-flight budget on its own.
	d.MaxInflightBytes = max(d.MaxInflightBytes, d.MaxBodyBytes+int64(d.MaxDecodedBytes))
	return d
}

// agentLimits holds each agent's rate limiter and recent series.
type agentLimits struct {
	limits Limits
	now    func() time.Time

	mu     sync.Mutex
	agents map[string]*agentState
}

type agentState struct {
	rate     *rate.Limiter
	newBytes *rate.Limiter // label bytes of new series
	inflight int           // requests being handled
	// cur and prev hold the series keys seen in this and the previous
	// hour: a series not written for two hours stops counting.
	cur, prev map[uint64]struct{}
	rotated   time.Time
}

func newAgentLimits(l Limits, now func() time.Time) *agentLimits {
	return &agentLimits{limits: l, now: now, agents: map[string]*agentState{}}
}

func (al *agentLimits) state(agent string) *agentState {
	st := al.agents[agent]
	if st == nil {
		perMin := al.limits.NewSeriesBytesPerMinute
		st = &agentState{rate: rate.NewLimiter(rate.Limit(al.limits.SamplesPerSecond), al.limits.Burst),
			newBytes: rate.NewLimiter(rate.Limit(float64(perMin)/60), max(newSeriesBurstMinutes*perMin, al.limits.MaxSeriesLabelsBytes)),
			cur:      map[uint64]struct{}{}, prev: map[uint64]struct{}{}, rotated: al.now()}
		al.agents[agent] = st
	}
	return st
}

// admit takes n samples from the agent's rate; when there are not enough,
// it says how long until there are.
func (al *agentLimits) admit(agent string, n int) (ok bool, retryAfter time.Duration) {
	al.mu.Lock()
	defer al.mu.Unlock()
	lim := al.state(agent).rate
	now := al.now()
	n = min(n, lim.Burst()) // a request larger than the burst is allowed once the bucket is full
	r := lim.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// enter admits one more request of the agent, unless it has
// MaxRequestsPerAgent being handled; leave ends an admitted one.
func (al *agentLimits) enter(agent string) bool {
	al.mu.Lock()
	defer al.mu.Unlock()
	st := al.state(agent)
	if st.inflight >= al.limits.MaxRequestsPerAgent {
		return false
	}
	st.inflight++
	return true
}

func (al *agentLimits) leave(agent string) {
	al.mu.Lock()
	al.agents[agent].inflight--
	al.mu.Unlock()
}

// series reports whether the agent may write the series with key k and
// size bytes of labels: it is known, or the agent is under its series
// limit and its rate of new series bytes. Over the rate, wait says when
// the bytes are there.
func (al *agentLimits) series(agent string, k uint64, size int) (ok bool, wait time.Duration) {
	al.mu.Lock()
	defer al.mu.Unlock()
	st := al.state(agent)
	now := al.now()
	if now.Sub(st.rotated) >= time.Hour {
		st.prev, st.cur, st.rotated = st.cur, make(map[uint64]struct{}, len(st.cur)), now
	}
	if _, ok := st.cur[k]; ok {
		return true, 0
	}
	if _, ok := st.prev[k]; ok {
		st.cur[k] = struct{}{}
		return true, 0
	}
	if len(st.cur)+len(st.prev) >= al.limits.MaxSeriesPerAgent {
		return false, 0
	}
	r := st.newBytes.ReserveN(now, size)
	if d := r.DelayFrom(now); !r.OK() || d > 0 {
		r.CancelAt(now)
		return false, min(max(d, time.Second), 10*time.Minute)
	}
	st.cur[k] = struct{}{}
	return true, 0
}
