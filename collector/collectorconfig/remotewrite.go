package collectorconfig

import (
	"net/url"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// RemoteWrite is one Prometheus remote-write endpoint every stored sample
// is forwarded to (storage.remote_write), through Prometheus's queue
// manager tailing the TSDB's WAL.
type RemoteWrite struct {
	URL             string              `yaml:"url"`
	Name            string              `yaml:"name"`              // default the URL's host
	BearerTokenFile string              `yaml:"bearer_token_file"` // optional
	RemoteTimeout   configfile.Duration `yaml:"remote_timeout"`    // default 30s
	// Queue tuning, Prometheus's queue_config (defaults 50, 2000, 10000).
	MaxShards         int `yaml:"max_shards"`
	MaxSamplesPerSend int `yaml:"max_samples_per_send"`
	Capacity          int `yaml:"capacity"`
}

func validateRemoteWrite(rws []RemoteWrite, q Query) []configfile.Problem {
	var ps []configfile.Problem
	if q.URL != "" {
		if u, err := url.Parse(q.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps = append(ps, configfile.At(configfile.Path{"query", "url"}, "%q is not an http or https URL", q.URL))
		}
	}
	names := map[string]bool{}
	for i, rw := range rws {
		at := configfile.Path{"storage", "remote_write", i}
		u, err := url.Parse(rw.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps = append(ps, configfile.At(at.Add("url"), "%q is not an http or https URL", rw.URL))
			continue
		}
		name := rw.Name
		if name == "" {
			name = u.Host
		}
		if names[name] {
			ps = append(ps, configfile.At(at.Add("name"), "%q is used by another remote_write entry: give each its own name", name))
		}
		names[name] = true
		if rw.RemoteTimeout < 0 || rw.MaxShards < 0 || rw.MaxSamplesPerSend < 0 || rw.Capacity < 0 {
			ps = append(ps, configfile.At(at, "remote_timeout, max_shards, max_samples_per_send and capacity must not be negative"))
		}
	}
	return ps
}
