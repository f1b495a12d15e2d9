package collectorconfig

import (
	"net/url"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Sinks are other stores every accepted sample is also written to.
type Sinks struct {
	InfluxDB *InfluxDB `yaml:"influxdb"`
}

// InfluxDB is an InfluxDB v2 write API (InfluxDB 2.x, 1.8+ with
// /api/v2/write, or a server that speaks it).
type InfluxDB struct {
	URL    string `yaml:"url"`
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"` // InfluxDB 1.8: "database/retention-policy"
	// The token comes from a file or an environment variable (InfluxDB
	// 1.8: "user:password", or empty without authentication).
	TokenFile string `yaml:"token_file"`
	TokenEnv  string `yaml:"token_env"`
	// The disk queue that rides out an InfluxDB outage: at most
	// max_queue_bytes (default 256 MiB), points older than max_queue_age
	// dropped (default 24h), both counted.
	MaxQueueBytes int64               `yaml:"max_queue_bytes"`
	MaxQueueAge   configfile.Duration `yaml:"max_queue_age"`
	BatchSize     int                 `yaml:"batch_size"`
}

func (s Sinks) validate() []configfile.Problem {
	var ps []configfile.Problem
	if in := s.InfluxDB; in != nil {
		at := configfile.Path{"sinks", "influxdb"}
		if u, err := url.Parse(in.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps = append(ps, configfile.At(at.Add("url"), "%q is not an http or https URL", in.URL))
		}
		if in.Bucket == "" {
			ps = append(ps, configfile.At(at.Add("bucket"), "is required"))
		}
		if in.TokenFile != "" && in.TokenEnv != "" {
			ps = append(ps, configfile.At(at, "one of token_file, token_env"))
		}
		if in.MaxQueueBytes < 0 || in.MaxQueueAge < 0 || in.BatchSize < 0 {
			ps = append(ps, configfile.At(at, "max_queue_bytes, max_queue_age and batch_size must not be negative"))
		}
	}
	return ps
}
