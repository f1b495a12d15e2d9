package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/slack-go/slack"
)

// Actions of Bulwark's buttons: Acknowledge on incident messages (its
// value the incident's group key), Approve on a playbook's approval
// question (its value the run's id).
const (
	AckActionID     = "bulwark_ack"
	ApproveActionID = "bulwark_approve"
)

// Action handles a click on a button: the clicking Slack user and the
// button's value; its answer, or its error, is shown to that user only.
type Action func(ctx context.Context, slackUser, value string) (string, error)

// Interactions serves Slack's interactivity requests: each is verified
// with the app's signing secret (slack.NewSecretsVerifier: signature and a
// timestamp within five minutes) before anything is read from it. A click
// calls the action of its action id.
func Interactions(signingSecret string, actions map[string]Action) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		sv, err := slack.NewSecretsVerifier(r.Header, signingSecret)
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
		text := "Nothing to do."
		for _, a := range cb.ActionCallback.BlockActions {
			act, ok := actions[a.ActionID]
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
