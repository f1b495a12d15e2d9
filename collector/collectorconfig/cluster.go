package collectorconfig

import (
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// Cluster names this collector among those sharing one PostgreSQL state
// (state.driver: postgres); alone on SQLite it is only shown.
type Cluster struct {
	// Member is this collector's name (default: the host name).
	Member string `yaml:"member"`
	// Address is where the other members and people reach it (default:
	// listen).
	Address string `yaml:"address"`
	// Lease is how long a duty (the heartbeat, schedules) stays with a
	// member that stopped renewing it, and how long a silent member's
	// claims stand (default 10s).
	Lease configfile.Duration `yaml:"lease"`
}

func (c Cluster) validate(at configfile.Path) []configfile.Problem {
	if c.Lease != 0 && c.Lease < configfile.Duration(time.Second) {
		return []configfile.Problem{configfile.At(at.Add("lease"), "must be at least 1s")}
	}
	return nil
}
