// Package store is where the collector keeps series: the embedded
// Prometheus TSDB by default, an existing engine at scale.
package store

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// Store appends and queries series.
type Store interface {
	storage.Appendable
	storage.Queryable
	Close() error
}

var _ Store = (*TSDB)(nil)

// Options configure the embedded TSDB.
type Options struct {
	// Retention is how long samples are kept (default 15 days).
	Retention time.Duration
	// OutOfOrderWindow accepts samples this much older than the newest of
	// their series, so agents can deliver what they queued while the
	// collector was away (default 25h: the agent queue's default 24h and an hour).
	OutOfOrderWindow time.Duration
}

// TSDB is the embedded Prometheus time-series database.
type TSDB struct {
	*tsdb.DB
}

// OpenTSDB opens (or creates) the database in dir, replaying its WAL.
func OpenTSDB(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*TSDB, error) {
	if opts.Retention <= 0 {
		opts.Retention = 15 * 24 * time.Hour
	}
	if opts.OutOfOrderWindow <= 0 {
		opts.OutOfOrderWindow = 25 * time.Hour
	}
	o := tsdb.DefaultOptions()
	o.RetentionDuration = opts.Retention.Milliseconds()
	o.OutOfOrderTimeWindow = opts.OutOfOrderWindow.Milliseconds()
	o.EnableOverlappingCompaction = true
	db, err := tsdb.Open(dir, logger, reg, o, nil)
	if err != nil {
		return nil, fmt.Errorf("open tsdb %s: %w", dir, err)
	}
	return &TSDB{DB: db}, nil
}

// Appender returns a transaction for new samples.
func (t *TSDB) Appender(ctx context.Context) storage.Appender { return t.DB.Appender(ctx) }
