package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/console"
)

// consoleAccess wires the console's logins and actions: sessions kept in
// memory (a restart logs everyone out), logins throttled, and the alerts
// page's forms acting through the same functions as the API.
func (a *App) consoleAccess() (console.Access, error) {
	sessions, err := auth.NewSessions(auth.SessionOptions{})
	if err != nil {
		return console.Access{}, fmt.Errorf("collector: %w", err)
	}
	acc := console.Access{Guard: a.guard, Sessions: sessions, Throttle: auth.NewThrottle(auth.ThrottleOptions{}),
		Audit: a.recordAudit}
	if a.silencer == nil {
		return acc, nil
	}
	acc.Acknowledge = func(ctx context.Context, by, incident, comment string) error {
		_, err := a.ackIncident(ctx, by, incident, comment, false)
		return err
	}
	acc.Silence = func(ctx context.Context, by string, f console.SilenceForm) error {
		m, err := alerting.ParseMatchers(f.Match)
		if err != nil {
			return err
		}
		_, err = a.addSilenceAs(ctx, by, silenceRequest{Match: m, EndsAt: f.EndsAt, For: f.For,
			Schedule: f.Schedule, Window: f.Window, Comment: f.Comment})
		return err
	}
	acc.ExpireSilence = func(ctx context.Context, by, id string) error {
		_, err := a.expireSilenceAs(ctx, by, id)
		if errors.Is(err, alerting.ErrNotFound) {
			return fmt.Errorf("no silence %q in force", id)
		}
		return err
	}
	return acc, nil
}
