// Package remotewrite forwards every sample the embedded TSDB accepts to
// Prometheus remote-write endpoints (VictoriaMetrics, Mimir, Thanos
// Receive) through Prometheus's own queue manager, which tails the TSDB's
// write-ahead log: its retries, sharding and prometheus_remote_storage_*
// metrics are Prometheus's. What it inherits, stated for operators: an
// endpoint down while the collector runs is ridden out from the WAL, as
// long as the WAL holds the samples (the head's two to three hours); a
// restart resumes from the restart's time, so samples still queued at
// shutdown after the flush deadline are not forwarded by this collector
// (its pair forwards the same samples: agents push to every collector).
// Samples accepted out of order (an agent's backlog older than the newest
// sample of its series) go to the TSDB's out-of-order log, which the queue
// manager does not read: they stay in the embedded store only.
package remotewrite

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	config_util "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/storage/remote"
)

// Endpoint is one remote-write receiver.
type Endpoint struct {
	// Name tells endpoints apart in metrics (remote_name); default the host.
	Name string
	// URL is the endpoint, e.g. http://vm:8428/api/v1/write.
	URL string
	// BearerTokenFile, when set, holds the token sent to it.
	BearerTokenFile string
	// Timeout of one send (default 30s).
	Timeout time.Duration
	// MaxShards, MaxSamplesPerSend and Capacity tune Prometheus's queue
	// manager (defaults 50, 2000 and 10000: about 1 M samples/s).
	MaxShards, MaxSamplesPerSend, Capacity int
}

// Options configure a Forwarder.
type Options struct {
	// TSDBDir is the embedded TSDB's directory; its wal/ is tailed.
	TSDBDir   string
	Endpoints []Endpoint
	// StartTime is the oldest sample the TSDB holds, in milliseconds.
	StartTime func() (int64, error)
	// FlushDeadline bounds how long Close waits for queued samples
	// (default 10s).
	FlushDeadline time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
}

// Forwarder tails the TSDB's WAL into the endpoints' queues. Hand it to
// the TSDB (tsdb.DB.SetWriteNotified) so a write wakes it at once.
type Forwarder struct {
	s *remote.Storage
}

// Open starts forwarding to every endpoint.
func Open(opts Options) (*Forwarder, error) {
	if opts.TSDBDir == "" || len(opts.Endpoints) == 0 {
		return nil, errors.New("remote write: a TSDB directory and at least one endpoint are required")
	}
	if opts.StartTime == nil {
		opts.StartTime = func() (int64, error) { return 0, nil }
	}
	if opts.FlushDeadline <= 0 {
		opts.FlushDeadline = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	cfg := &config.Config{GlobalConfig: config.DefaultGlobalConfig}
	for i, e := range opts.Endpoints {
		rw, err := remoteWriteConfig(e)
		if err != nil {
			return nil, fmt.Errorf("remote write %d: %w", i, err)
		}
		cfg.RemoteWriteConfigs = append(cfg.RemoteWriteConfigs, rw)
	}
	s := remote.NewStorage(opts.Logger, opts.Registerer, opts.StartTime, opts.TSDBDir, opts.FlushDeadline, nil, false)
	if err := s.ApplyConfig(cfg); err != nil {
		s.Close()
		return nil, fmt.Errorf("remote write: %w", err)
	}
	return &Forwarder{s: s}, nil
}

// remoteWriteConfig is e in Prometheus's terms, metadata off (Bulwark's
// series carry no scrape metadata).
func remoteWriteConfig(e Endpoint) (*config.RemoteWriteConfig, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", e.URL)
	}
	rw := config.DefaultRemoteWriteConfig
	rw.URL = &config_util.URL{URL: u}
	rw.Name = e.Name
	if rw.Name == "" {
		rw.Name = u.Host
	}
	if e.Timeout > 0 {
		rw.RemoteTimeout = model.Duration(e.Timeout)
	}
	if e.BearerTokenFile != "" {
		rw.HTTPClientConfig.Authorization = &config_util.Authorization{Type: "Bearer", CredentialsFile: e.BearerTokenFile}
	}
	if e.MaxShards > 0 {
		rw.QueueConfig.MaxShards = e.MaxShards
	}
	if e.MaxSamplesPerSend > 0 {
		rw.QueueConfig.MaxSamplesPerSend = e.MaxSamplesPerSend
	}
	if e.Capacity > 0 {
		rw.QueueConfig.Capacity = e.Capacity
	}
	rw.MetadataConfig.Send = false
	if err := rw.HTTPClientConfig.Validate(); err != nil {
		return nil, err
	}
	return &rw, nil
}

// Notify wakes the WAL watchers: the TSDB calls it after each write.
func (f *Forwarder) Notify() { f.s.Notify() }

// Close sends what is queued within the flush deadline and stops.
func (f *Forwarder) Close() error { return f.s.Close() }
