package collector

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/bulwarkhq/bulwark/collector/remotewrite"
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
