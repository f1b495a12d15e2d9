package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/bulwarkhq/bulwark/alerting/notify/slack"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/playbooks/runner"
)

// slackInteractions serves the buttons of Slack messages (Acknowledge,
// Approve); it answers 404 unless a Slack receiver has a signing secret.
// The clicking Slack user must map to a Bulwark user (alerting.slack_users)
// with the role the action needs. A signed request is accepted once, and
// an Approve button approves only the step it names, at the run's version
// it was asked at.
func (a *App) slackInteractions(w http.ResponseWriter, r *http.Request) {
	if a.slackSecret == "" {
		notFound(w, r)
		return
	}
	slack.Interactions(slack.InteractionOptions{SigningSecret: a.slackSecret, Seen: a.slackSeen.get(),
		Replayed: func(ctx context.Context, slackUser string, actions []string) {
			// Whoever resent it is unknown: the entry names the Slack user the
			// request does, and the Bulwark user mapped to it.
			detail := map[string]any{"slack_user": slackUser, "actions": actions}
			if u, err := a.slackUser(slackUser); err == nil {
				detail["user"] = u.ID
			}
			a.recordAudit(ctx, "slack:"+slackUser, "slack.replay-refused", detail)
		},
		Actions: map[string]slack.Action{
			slack.AckActionID: func(ctx context.Context, slackUser, groupKey string) (string, error) {
				u, err := a.slackUser(slackUser)
				if err != nil {
					return "", err
				}
				if !u.Role.Includes(auth.RoleOperator) {
					return "", fmt.Errorf("user %q is not an operator", u.ID)
				}
				ack, err := a.silencer.Acknowledge(ctx, groupKey, u.ID, "from Slack", true)
				if err != nil {
					return "", err
				}
				a.recordAudit(ctx, u.ID, "acknowledge", ack)
				return "Acknowledged by " + u.ID + ".", nil
			},
			slack.ApproveActionID: func(ctx context.Context, slackUser, value string) (string, error) {
				u, err := a.slackUser(slackUser)
				if err != nil {
					return "", err
				}
				q, err := slack.ParseApprovalValue(value)
				if err != nil {
					return "", err
				}
				err = a.runner.Approve(ctx, runner.Approval{Run: q.Run, Step: q.Step, Version: q.Version, User: u.ID, Role: string(u.Role), Comment: "from Slack"})
				detail := map[string]any{"run": q.Run, "step": q.Step, "version": q.Version, "via": "slack"}
				if errors.Is(err, runner.ErrStale) || errors.Is(err, runner.ErrNotNow) {
					detail["refused"] = err.Error()
					a.recordAudit(ctx, u.ID, "playbook.approve-refused", detail)
				}
				if err != nil {
					return "", err
				}
				a.recordAudit(ctx, u.ID, "playbook.approve", detail)
				return fmt.Sprintf("Step %s approved by %s.", q.Step, u.ID), nil
			},
		}}).ServeHTTP(w, r)
}

// slackUser is the Bulwark user a Slack user is mapped to.
func (a *App) slackUser(slackUser string) (auth.User, error) {
	id, ok := a.opts.Config.Alerting.SlackUsers[slackUser]
	if !ok {
		return auth.User{}, fmt.Errorf("slack user %s is not mapped to a Bulwark user (alerting.slack_users)", slackUser)
	}
	u, ok := a.guard.Users.ByID(id)
	if !ok {
		return auth.User{}, fmt.Errorf("user %q is not configured", id)
	}
	return u, nil
}

// replayCache is the collector's one Slack replay cache, made at first use.
type replayCache struct {
	once sync.Once
	c    *slack.ReplayCache
}

func (r *replayCache) get() *slack.ReplayCache {
	r.once.Do(func() { r.c = slack.NewReplayCache(0, nil) })
	return r.c
}
