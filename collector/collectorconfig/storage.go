package collectorconfig

import (
	"fmt"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Storage configures the embedded TSDB.
type Storage struct {
	Retention        configfile.Duration `yaml:"retention"`
	OutOfOrderWindow configfile.Duration `yaml:"out_of_order_window"`
	// SelfMetricsInterval is how often the collector stores its own
	// bulwark_* metrics (ingest, notifications, incidents) in the store,
	// for dashboards (default 15s; 0s: never).
	SelfMetricsInterval configfile.Duration `yaml:"self_metrics_interval"`
	// RemoteWrite forwards every stored sample to these endpoints.
	RemoteWrite []RemoteWrite `yaml:"remote_write"`
}

// DefaultOutOfOrderWindow covers an agent's default queue age (24h) with
// an hour to spare: an agent that was cut off for a day delivers it all.
const DefaultOutOfOrderWindow = configfile.Duration(25 * time.Hour)

// AgentQueueMaxAge is the agent's default queue.max_age; Warnings compares
// the out-of-order window with it.
const AgentQueueMaxAge = 24 * time.Hour

// Warnings are settings that are valid but likely to lose data.
func (c *Config) Warnings() []string {
	var ws []string
	if w := time.Duration(c.Storage.OutOfOrderWindow); w < AgentQueueMaxAge {
		ws = append(ws, fmt.Sprintf("storage.out_of_order_window %s is shorter than the agents' default queue.max_age %s: "+
			"after an outage longer than %s, the older queued samples are refused; set both to agree", w, AgentQueueMaxAge, w))
	}
	return ws
}
