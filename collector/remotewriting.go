package collector

import (
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/remotewrite"
	"github.com/bulwarkhq/bulwark/collector/store"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// newRemoteWrite starts forwarding the TSDB's WAL to storage.remote_write.
func (a *App) newRemoteWrite() error {
	rws := a.opts.Config.Storage.RemoteWrite
	if len(rws) == 0 {
		return nil
	}
	eps := make([]remotewrite.Endpoint, len(rws))
	for i, rw := range rws {
		eps[i] = remotewrite.Endpoint{Name: rw.Name, URL: rw.URL, BearerTokenFile: rw.BearerTokenFile, Timeout: time.Duration(rw.RemoteTimeout),
			MaxShards: rw.MaxShards, MaxSamplesPerSend: rw.MaxSamplesPerSend, Capacity: rw.Capacity}
	}
	f, err := remotewrite.Open(remotewrite.Options{TSDBDir: filepath.Join(a.opts.Config.DataDir, "tsdb"), Endpoints: eps,
		StartTime: func() (int64, error) { return a.store.DB.StartTime() },
		Logger:    a.opts.Logger.With("component", "remote_write"), Registerer: a.registry})
	if err != nil {
		return fmt.Errorf("collector: storage.remote_write: %w", err)
	}
	a.remote = f
	a.store.DB.SetWriteNotified(f)
	return nil
}

// seriesQueryable is what queries, rules and reports read: the embedded
// store, merged with query.url's shared store when one is set.
func seriesQueryable(c *collectorconfig.Config, st *store.TSDB) (storage.Queryable, error) {
	if c.Query.URL == "" {
		return st, nil
	}
	token := ""
	if f := c.Query.BearerTokenFile; f != "" {
		var err error
		if token, err = configfile.Secret(f, ""); err != nil {
			return nil, fmt.Errorf("query.bearer_token_file: %w", err)
		}
	}
	remote := &store.Remote{URL: c.Query.URL, Token: token, MaxSamples: c.Query.MaxSamples,
		Client: &http.Client{Timeout: time.Duration(c.Query.Timeout)}}
	return store.Merged{Local: st, Remote: remote}, nil
}

// readFrom is the store, read through another queryable: the rules write
// their results to the store and read what queries read.
type readFrom struct {
	*store.TSDB
	read storage.Queryable
}

// Querier reads through read.
func (r readFrom) Querier(mint, maxt int64) (storage.Querier, error) {
	return r.read.Querier(mint, maxt)
}
