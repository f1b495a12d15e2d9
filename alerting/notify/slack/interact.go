package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// Actions of Bulwark's buttons: Acknowledge on incident messages (its
// value the incident's group key), Approve on a playbook's approval
// question (its value an ApprovalValue: run, step and the run's version).
const (
	AckActionID     = "bulwark_ack"
	ApproveActionID = "bulwark_approve"
)

// Action handles a click on a button: the clicking Slack user and the
// button's value; its answer, or its error, is shown to that user only.
type Action func(ctx context.Context, slackUser, value string) (string, error)

// InteractionOptions configure Interactions.
type InteractionOptions struct {
	// SigningSecret is the Slack app's signing secret (required).
	SigningSecret string
	// Actions are called by action id.
	Actions map[string]Action
	// Seen remembers the requests accepted (required): it outlives a
	// request, so the caller keeps one per collector.
	Seen *ReplayCache
	// Replayed, optional, is told of a refused replay (for the audit
	// log): the Slack user the request names and its action ids.
	Replayed func(ctx context.Context, slackUser string, actionIDs []string)
}

// Interactions serves Slack's interactivity requests: each is verified
// with the app's signing secret (slack.NewSecretsVerifier: signature and a
// timestamp within five minutes) before anything is read from it, and
// accepted once: the same signed request sent again (a replay, which the
// signature alone allows within the five minutes) is refused. A click
// calls the action of its action id.
func Interactions(opts InteractionOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.SigningSecret == "" || opts.Seen == nil {
			http.Error(w, "Slack interactivity is not configured", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		sv, err := slack.NewSecretsVerifier(r.Header, opts.SigningSecret)
		if err == nil {
			sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil {
			http.Error(w, "request not signed by Slack", http.StatusUnauthorized)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "not a form", http.StatusBadRequest)
			return
		}
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
			http.Error(w, "no interaction payload", http.StatusBadRequest)
			return
		}
		ts, _ := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64) // verified above
		switch opts.Seen.Accept(r.Header.Get("X-Slack-Signature"), time.Unix(ts, 0)) {
		case Replayed:
			if opts.Replayed != nil {
				var ids []string
				for _, a := range cb.ActionCallback.BlockActions {
					ids = append(ids, a.ActionID)
				}
				opts.Replayed(r.Context(), cb.User.ID, ids)
			}
			http.Error(w, "this request was accepted already: a replay does nothing", http.StatusConflict)
			return
		case Full:
			http.Error(w, "too many Slack requests to remember: try again in a few minutes", http.StatusServiceUnavailable)
			return
		}
		text := "Nothing to do."
		for _, a := range cb.ActionCallback.BlockActions {
			act, ok := opts.Actions[a.ActionID]
			if !ok {
				continue
			}
			if text, err = act(r.Context(), cb.User.ID, a.Value); err != nil {
				text = fmt.Sprintf("Not done: %v", err)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": text})
	})
}

// Approval is what an Approve button answers: a run's step, asked at a
// version of the run. The button's value is its JSON.
type Approval struct {
	Run     string `json:"run"`
	Step    string `json:"step"`
	Version int64  `json:"version"`
}

// ApprovalValue is the value of the Approve button for a.
func ApprovalValue(a Approval) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// ErrOldButton: the button's value names no step and version (a button
// posted by a Bulwark before they were required).
var ErrOldButton = errors.New("this Approve button names no step and version (posted by an older Bulwark): approve with `bulwark playbook approve`")

// ParseApprovalValue reads an Approve button's value.
func ParseApprovalValue(v string) (Approval, error) {
	var a Approval
	if err := json.Unmarshal([]byte(v), &a); err != nil || a.Run == "" || a.Step == "" || a.Version <= 0 {
		return Approval{}, ErrOldButton
	}
	return a, nil
}
