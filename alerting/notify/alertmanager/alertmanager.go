// Package alertmanager forwards Bulwark's alerts to Prometheus
// Alertmanagers through their v2 API, as Prometheus does, so a shop that
// already routes with Alertmanager keeps its routing.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// Alert is one alert as Alertmanager's v2 API takes it.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// FromLabels converts Prometheus label sets.
func FromLabels(ls labels.Labels) map[string]string { return ls.Map() }

// Options configure a Sender.
type Options struct {
	// URLs are the Alertmanagers' base URLs; each gets every alert.
	URLs []string
	// Token, when set, is sent as a bearer token.
	Token  string
	Client *http.Client // default: 10 s timeout
	// QueueCapacity bounds the alerts waiting to be sent (default 10,000);
	// the oldest are dropped, and counted, past it.
	QueueCapacity int
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// Sender delivers batches of alerts to every Alertmanager.
type Sender struct {
	opts    Options
	queue   chan []Alert
	sent    *prometheus.CounterVec
	errors  *prometheus.CounterVec
	dropped prometheus.Counter
}

// New validates opts.
func New(opts Options) (*Sender, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("alertmanager: at least one URL is required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = 10_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	f := promauto.With(opts.Registerer)
	return &Sender{opts: opts, queue: make(chan []Alert, 64),
		sent: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "notifications", Name: "alertmanager_alerts_sent_total",
			Help: "Alerts delivered to an Alertmanager."}, []string{"alertmanager"}),
		errors: f.NewCounterVec(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "notifications", Name: "alertmanager_errors_total",
			Help: "Failed deliveries to an Alertmanager."}, []string{"alertmanager"}),
		dropped: f.NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "notifications", Name: "alertmanager_dropped_total",
			Help: "Alerts dropped because the queue was full."}),
	}, nil
}

// Enqueue hands a batch to Run without blocking; when the queue is full
// the oldest batch is dropped (the rule manager resends firing alerts).
func (s *Sender) Enqueue(alerts []Alert) {
	for {
		select {
		case s.queue <- alerts:
			return
		default:
		}
		select {
		case old := <-s.queue:
			s.dropped.Add(float64(len(old)))
		default:
		}
	}
}

// Run sends queued batches until ctx ends, retrying a batch that may
// succeed later a few times with backoff.
func (s *Sender) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-s.queue:
			for _, u := range s.opts.URLs {
				for attempt, wait := 0, 500*time.Millisecond; ; attempt, wait = attempt+1, wait*2 {
					retry, err := s.Send(ctx, u, batch)
					if err == nil {
						s.sent.WithLabelValues(notify.Redacted(u)).Add(float64(len(batch)))
						break
					}
					s.errors.WithLabelValues(notify.Redacted(u)).Inc()
					if !retry || attempt == 3 {
						s.opts.Logger.Error("alertmanager: alerts not delivered", "alertmanager", notify.Redacted(u), "alerts", len(batch), "err", err)
						break
					}
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
			}
		}
	}
}

// Send posts alerts to the Alertmanager at base; retry says whether a
// failure may pass on a later attempt.
func (s *Sender) Send(ctx context.Context, base string, alerts []Alert) (retry bool, err error) {
	body, err := json.Marshal(alerts)
	if err != nil {
		return false, fmt.Errorf("alertmanager: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("alertmanager %s: %w", notify.Redacted(base), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Bulwark")
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		// A *url.Error carries the URL with its secrets: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, fmt.Errorf("alertmanager %s: request failed: %w", notify.Redacted(base), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	return notify.Retry(resp.StatusCode), fmt.Errorf("alertmanager %s: HTTP %d: %s", notify.Redacted(base), resp.StatusCode, bytes.TrimSpace(msg))
}
