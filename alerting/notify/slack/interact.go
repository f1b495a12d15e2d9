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

// AckActionID is the action of the Acknowledge button on incident messages.
const AckActionID = "bulwark_ack"

// Interactions serves Slack's interactivity requests: each is verified
// with the app's signing secret (slack.NewSecretsVerifier: signature and a
// timestamp within five minutes) before anything is read from it. A click
// on Acknowledge calls ack with the clicking Slack user and the incident's
// group key; its answer, or its error, is shown to that user only.
func Interactions(signingSecret string, ack func(ctx context.Context, slackUser, groupKey string) (string, error)) http.Handler {
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
			if a.ActionID != AckActionID {
				continue
			}
			if text, err = ack(r.Context(), cb.User.ID, a.Value); err != nil {
				text = fmt.Sprintf("Not acknowledged: %v", err)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": text})
	})
}
