package query

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// queryLog writes one JSON line per evaluated query, like Prometheus's
// query_log_file: who asked what, and what it cost.
type queryLog struct {
	log *slog.Logger
}

// openQueryLog opens path for appending; "" logs nothing.
func openQueryLog(path string) (*queryLog, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("query log: %w", err)
	}
	return &queryLog{log: slog.New(slog.NewJSONHandler(f, nil))}, nil
}

func (l *queryLog) record(ctx context.Context, q promql.Query, took time.Duration, err error) {
	if l == nil {
		return
	}
	u, _ := auth.UserFrom(ctx)
	attrs := []any{"user", u.ID, "query", q.String(), "seconds", took.Seconds()}
	if st := q.Stats(); st != nil {
		attrs = append(attrs, "peak_samples", st.Samples.PeakSamples, "total_samples", st.Samples.TotalSamples)
	}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	l.log.Info("query", attrs...)
}
