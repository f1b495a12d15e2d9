package alerting

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/robfig/cron/v3"
)

// Silence mutes the alerts it matches while it is active: once between
// StartsAt and EndsAt, or, for a recurring maintenance window, for
// Duration from each time its cron Schedule names (in TZ) until EndsAt.
type Silence struct {
	ID       string            `json:"id"`
	Matchers map[string]string `json:"matchers"`           // label = value
	MatchRE  map[string]string `json:"matchRe,omitempty"`  // label =~ regexp (anchored)
	Match    Matchers          `json:"match,omitempty"`    // Alertmanager's syntax: =, !=, =~, !~
	StartsAt time.Time         `json:"startsAt"`           // from when
	EndsAt   time.Time         `json:"endsAt"`             // until when (expiring sets it)
	Schedule string            `json:"schedule,omitempty"` // cron: a recurring window
	Duration time.Duration     `json:"duration,omitempty"` // of each window
	TZ       string            `json:"tz,omitempty"`       // the schedule's time zone (default UTC)
	By       string            `json:"createdBy"`
	Comment  string            `json:"comment"`

	ms    Matchers // every form together, once prepared
	sched cron.Schedule
	loc   *time.Location
}

var windowParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Prepare validates s and compiles its matchers and schedule.
func (s *Silence) Prepare() error {
	if len(s.Matchers)+len(s.MatchRE)+len(s.Match) == 0 {
		return errors.New("silence: at least one matcher is required (a silence of everything hides an outage)")
	}
	if s.Comment == "" || s.By == "" {
		return errors.New("silence: an author and a comment are required")
	}
	if !s.EndsAt.After(s.StartsAt) {
		return errors.New("silence: it must end after it starts")
	}
	var err error
	if s.ms, err = combineMatchers(s.Matchers, s.MatchRE, s.Match); err != nil {
		return fmt.Errorf("silence: matcher %w", err)
	}
	s.sched, s.loc = nil, time.UTC
	if s.Schedule != "" {
		if s.Duration <= 0 {
			return errors.New("silence: a recurring window needs a duration")
		}
		if s.sched, err = windowParser.Parse(s.Schedule); err != nil {
			return fmt.Errorf("silence: schedule %q: %w", s.Schedule, err)
		}
		if s.TZ != "" {
			if s.loc, err = time.LoadLocation(s.TZ); err != nil {
				return fmt.Errorf("silence: time zone %q: %w", s.TZ, err)
			}
		}
	}
	return nil
}

// Active reports whether s mutes at now.
func (s *Silence) Active(now time.Time) bool {
	if now.Before(s.StartsAt) || !now.Before(s.EndsAt) {
		return false
	}
	if s.sched == nil {
		return true
	}
	// In a window when one started in (now - Duration, now].
	start := s.sched.Next(now.In(s.loc).Add(-s.Duration))
	return !start.After(now)
}

// Mutes reports whether s, active, matches ls.
func (s *Silence) Mutes(ls labels.Labels, now time.Time) bool {
	return s.Active(now) && s.ms.Matches(ls)
}
