package collectorconfig

import (
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Default returns the configuration of an empty file.
func Default() Config {
	return Config{
		Listen:  "127.0.0.1:9400",
		DataDir: "data",
		Storage: Storage{
			Retention:           configfile.Duration(15 * 24 * time.Hour),
			OutOfOrderWindow:    DefaultOutOfOrderWindow,
			SelfMetricsInterval: configfile.Duration(15 * time.Second),
		},
		Attribution: Attribution{Interval: configfile.Duration(time.Minute), Window: configfile.Duration(3 * time.Hour)},
		Web: Web{
			ReadHeaderTimeout: configfile.Duration(10 * time.Second),
			IdleTimeout:       configfile.Duration(2 * time.Minute),
			MaxHeaderBytes:    64 << 10,
			MaxConnections:    4096,
		},
		Query: Query{Timeout: configfile.Duration(30 * time.Second), MaxConcurrent: 8, MaxSamples: 5_000_000,
			MaxLabelBytes: 16 << 20, MaxQueryLength: 16 << 10, MaxRequestBytes: 256 << 10},
		Alerting: Alerting{EvaluationInterval: configfile.Duration(15 * time.Second), DefaultProbeInterval: configfile.Duration(30 * time.Second)},
	}
}
