package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// Heartbeat is the collector's dead-man's switch: it tells an external
// receiver every Interval that it is alive and evaluating, so that its
// silence (a crash, a cut network, a wedged host) is itself noticed, by
// something that does not depend on it.
type Heartbeat struct {
	URL      string
	Interval time.Duration
	Client   *http.Client
	Logger   *slog.Logger
	// Alive reports whether the collector is healthy enough to say so:
	// rules evaluated recently and notifications not stuck (the
	// pipeline's health, not only its first stage); nil: always.
	Alive func() bool

	failures prometheus.Counter
	beat     func(context.Context) error // Beat, unless a test replaces it
}

// Register adds the heartbeat's failure counter to reg.
func (h *Heartbeat) Register(reg prometheus.Registerer) {
	h.failures = promauto.With(reg).NewCounter(prometheus.CounterOpts{Namespace: "bulwark", Subsystem: "notifications",
		Name: "heartbeat_failures_total", Help: "Heartbeats the external receiver did not take."})
}

// Run beats until ctx ends.
func (h *Heartbeat) Run(ctx context.Context) {
	t := time.NewTicker(h.Interval)
	defer t.Stop()
	for {
		if h.Alive == nil || h.Alive() {
			beat := h.beat
			if beat == nil {
				beat = h.Beat
			}
			if err := beat(ctx); err != nil {
				if h.failures != nil {
					h.failures.Inc()
				}
				if h.Logger != nil {
					h.Logger.Warn("heartbeat not delivered", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Beat sends one heartbeat.
func (h *Heartbeat) Beat(ctx context.Context) error {
	body, _ := json.Marshal(map[string]any{"status": "alive", "source": "bulwark", "at": time.Now().UTC(), "interval_seconds": h.Interval.Seconds()})
	code, err := notify.PostJSON(ctx, h.Client, "heartbeat", h.URL, body, nil)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("heartbeat %s: HTTP %d", notify.Redacted(h.URL), code)
	}
	return nil
}
