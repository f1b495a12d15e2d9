package target

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule reads a schedule: 5- or 6-field cron, a descriptor such as
// "@hourly", or "@every 30s" (at least one second).
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := scheduleParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w", spec, err)
	}
	if d, ok := strings.CutPrefix(spec, "@every "); ok {
		if v, _ := time.ParseDuration(d); v < time.Second {
			return nil, fmt.Errorf("invalid schedule %q: interval must be at least 1s", spec)
		}
	}
	return s, nil
}
