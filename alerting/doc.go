// Package alerting will hold the alert pipeline: rules (PromQL and
// built-ins), inhibition by shared cause, silences, grouping, routing and
// the notifiers (Slack, webhook, Alertmanager, e-mail), one stage per file.
// Nothing lives here yet; see the alerting issue.
package alerting
