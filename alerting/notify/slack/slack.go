// Package slack posts notifications to a Slack channel with a bot token
// (chat.postMessage, Block Kit): one message per incident, follow-ups in
// its thread, and the first message edited once the incident resolves.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify"
)

// Options configure a Receiver.
type Options struct {
	// Token and Channel post with a bot token (chat.postMessage): threads,
	// edits and the Acknowledge button work.
	Token   string
	Channel string
	// WebhookURL posts to an incoming webhook instead (its channel is
	// fixed by Slack; no threads, no edits). It is a secret: errors and
	// logs show only its host.
	WebhookURL string
	// APIURL is Slack's Web API base (default Slack's own; tests point it
	// at the SDK's slacktest server).
	APIURL string
	// ConsoleURL, when set, is linked from every message.
	ConsoleURL string
	// Interactive adds an Acknowledge button to firing incidents (the
	// Slack app's interactivity points at /api/v1/slack/interactions).
	Interactive bool
	// Client makes the requests (default: one with a 10 s timeout).
	Client *http.Client
}

// MetadataEventType is the event type of the metadata every message
// carries: the notification's id, so a reader can drop a second copy
// (delivery is at least once).
const MetadataEventType = "bulwark_notification"

// Receiver is a Slack channel.
type Receiver struct {
	opts Options
	api  *slack.Client
}

var (
	_ alerting.Receiver       = (*Receiver)(nil)
	_ alerting.ThreadReceiver = (*Receiver)(nil)
)

// New validates opts.
func New(opts Options) (*Receiver, error) {
	if (opts.Token == "" || opts.Channel == "") == (opts.WebhookURL == "") {
		return nil, errors.New("slack: either a token and a channel, or an incoming webhook URL, is required")
	}
	var so []slack.Option
	if opts.APIURL != "" {
		so = append(so, slack.OptionAPIURL(strings.TrimRight(opts.APIURL, "/")+"/"))
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: notify.DefaultTimeout}
	}
	so = append(so, slack.OptionHTTPClient(opts.Client))
	return &Receiver{opts: opts, api: slack.New(opts.Token, so...)}, nil
}

// Notify posts n (a new message, or a reply in its incident's thread).
func (r *Receiver) Notify(ctx context.Context, n *alerting.Notification) (bool, error) {
	_, retry, err := r.NotifyThread(ctx, n)
	return retry, err
}

// NotifyThread posts the incident's first message, or a follow-up in its
// thread; on resolution it also edits the first message to say so.
func (r *Receiver) NotifyThread(ctx context.Context, n *alerting.Notification) (string, bool, error) {
	text, blocks := Render(n, r.opts.ConsoleURL)
	if r.opts.Interactive && n.Status == "firing" && n.Ack == nil {
		blocks = append(blocks, slack.NewActionBlock("bulwark_actions",
			slack.NewButtonBlockElement(AckActionID, n.GroupKey, slack.NewTextBlockObject(slack.PlainTextType, "Acknowledge", false, false))))
	}
	if n.Ack != nil {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
			fmt.Sprintf("Acknowledged by %s: %s", n.Ack.By, n.Ack.Comment), false, false)))
	}
	if r.opts.WebhookURL != "" {
		retry, err := r.postWebhook(ctx, text, blocks)
		return "", retry, err
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)}
	if n.ID != "" {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: MetadataEventType,
			EventPayload: map[string]any{"id": n.ID, "incident": n.Incident, "group_key": n.GroupKey, "status": n.Status}}))
	}
	if n.Thread == "" {
		_, ts, err := r.api.PostMessageContext(ctx, r.opts.Channel, opts...)
		if err != nil {
			retry, err := classify(err)
			return "", retry, err
		}
		return ts, false, nil
	}
	if _, _, err := r.api.PostMessageContext(ctx, r.opts.Channel, append(opts, slack.MsgOptionTS(n.Thread))...); err != nil {
		retry, err := classify(err)
		return n.Thread, retry, err
	}
	if n.Status == "resolved" {
		if _, _, _, err := r.api.UpdateMessageContext(ctx, r.opts.Channel, n.Thread, opts...); err != nil {
			retry, err := classify(err)
			return n.Thread, retry, err
		}
	}
	return n.Thread, false, nil
}

// AskApproval posts a playbook's approval question; with interactivity
// it carries an Approve button whose value is the run's id (the click is
// checked against the clicking user's role by the collector).
func (r *Receiver) AskApproval(ctx context.Context, runID, title, text string) error {
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, title, false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil),
	}
	if r.opts.Interactive {
		approve := slack.NewButtonBlockElement(ApproveActionID, runID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))
		approve.Style = slack.StylePrimary
		blocks = append(blocks, slack.NewActionBlock("bulwark_approval", approve))
	}
	if r.opts.WebhookURL != "" {
		_, err := r.postWebhook(ctx, title, blocks)
		return err
	}
	_, _, err := r.api.PostMessageContext(ctx, r.opts.Channel, slack.MsgOptionText(title, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		_, err = classify(err)
	}
	return err
}

// postWebhook posts one message to the incoming webhook.
func (r *Receiver) postWebhook(ctx context.Context, text string, blocks []slack.Block) (bool, error) {
	err := slack.PostWebhookCustomHTTPContext(ctx, r.opts.WebhookURL, r.opts.Client, &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}})
	if err == nil {
		return false, nil
	}
	var ue *url.Error
	if errors.As(err, &ue) { // it names the URL, hence the secret
		return true, fmt.Errorf("slack webhook %s: %s: %v", notify.Redacted(r.opts.WebhookURL), ue.Op, ue.Err)
	}
	return classify(err)
}

// classify says whether a Slack failure may pass on retry; the error
// never carries the token.
func classify(err error) (bool, error) {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return true, &notify.RetryAfterError{After: rl.RetryAfter, Err: fmt.Errorf("slack: rate limited, retry after %s", rl.RetryAfter)}
	case errors.As(err, &sc):
		return notify.Retry(sc.Code), fmt.Errorf("slack: HTTP %d", sc.Code)
	case errors.As(err, &se):
		return false, fmt.Errorf("slack: %s", se.Err) // invalid_auth, channel_not_found: fix the configuration
	}
	return true, fmt.Errorf("slack: %w", err)
}

// Render writes n as a fallback text and Block Kit blocks: what, where,
// since when, the vantage classification, the probable shared cause.
func Render(n *alerting.Notification, consoleURL string) (string, []slack.Block) {
	title := n.Title()
	lines := n.Lines(func(s string) string { return "*" + s + "*" })
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, title, false, false)),
	}
	if c := n.CauseText(); c != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*Probable shared cause:* "+c, false, false), nil, nil))
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, strings.Join(lines, "\n"), false, false), nil, nil))
	if consoleURL != "" {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "<"+consoleURL+"|Open the Bulwark console>", false, false)))
	}
	return title, blocks
}

// Printer is a Slack-shaped receiver that prints to a terminal: the demo's,
// so a newcomer sees what on-call staff would receive.
type Printer struct {
	W          io.Writer
	ConsoleURL string
	// Now stamps each notification (default time.Now): a terminal, unlike
	// Slack, shows no time of its own.
	Now func() time.Time
	mu  sync.Mutex
}

// Notify prints n as the Slack message would read.
func (p *Printer) Notify(_ context.Context, n *alerting.Notification) (bool, error) {
	title, blocks := Render(n, p.ConsoleURL)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	fmt.Fprintf(p.W, "\n── notification to %s at %s ──\n%s\n", n.Receiver, now().UTC().Format("2006-01-02 15:04:05 MST"), title)
	for _, b := range blocks[1:] {
		switch b := b.(type) {
		case *slack.SectionBlock:
			fmt.Fprintln(p.W, strings.ReplaceAll(b.Text.Text, "*", ""))
		case *slack.ContextBlock:
			fmt.Fprintln(p.W, consoleLink(p.ConsoleURL))
		}
	}
	return false, nil
}

func consoleLink(u string) string { return "Console: " + u }
