package collectorconfig

import (
	"github.com/bulwarkhq/bulwark/alerting/notify/email"
)

// receiverKind is one kind of notifier a receiver may be: its key in the
// receiver, whether a receiver sets it, and what is wrong with its
// settings. The collector builds each kind (collector/receivers.go,
// keyed by the same names); tests fail when a kind lacks its key in
// Receiver or its builder there.
type receiverKind struct {
	name string
	set  func(r *Receiver) bool
	// check returns the problems of the kind's settings (nil: none).
	check func(r *Receiver) []string
}

// receiverKinds is the one table of notifier kinds, in the order
// messages list them.
var receiverKinds = [...]receiverKind{
	{name: "slack", set: func(r *Receiver) bool { return r.Slack != nil }, check: checkSlack},
	{name: "webhook", set: func(r *Receiver) bool { return r.Webhook != nil }, check: func(r *Receiver) []string {
		if setCount(r.Webhook.URL, r.Webhook.URLFile) != 1 {
			return []string{"needs one of url, url_file"}
		}
		return nil
	}},
	{name: "email", set: func(r *Receiver) bool { return r.Email != nil }, check: checkEmail},
	{name: "discard", set: func(r *Receiver) bool { return r.Discard }},
}

// ReceiverKinds returns the kinds of notifier a receiver may be.
func ReceiverKinds() []string {
	out := make([]string, len(receiverKinds))
	for i, k := range receiverKinds {
		out[i] = k.name
	}
	return out
}

// Kind returns the kind of notifier r is: "" unless it sets exactly one.
func (r *Receiver) Kind() string {
	kind := ""
	for _, k := range receiverKinds {
		if k.set(r) {
			if kind != "" {
				return ""
			}
			kind = k.name
		}
	}
	return kind
}

func checkSlack(r *Receiver) []string {
	var out []string
	if sl := r.Slack; sl.WebhookURLFile == "" && (sl.Channel == "" || setCount(sl.TokenFile, sl.TokenEnv) != 1) {
		out = append(out, "needs a channel and one of token_file, token_env (or webhook_url_file alone)")
	}
	if sl := r.Slack; sl.WebhookURLFile != "" && setCount(sl.Channel, sl.TokenFile, sl.TokenEnv, sl.SigningSecretFile) != 0 {
		out = append(out, "webhook_url_file goes alone: an incoming webhook has its channel and no token")
	}
	return out
}

func checkEmail(r *Receiver) []string {
	var out []string
	e := r.Email
	rcv := email.Receiver{Smarthost: e.Smarthost, From: e.From, To: e.To}
	if err := rcv.Validate(); err != nil {
		out = append(out, err.Error())
	}
	if (e.Username == "") != (e.PasswordFile == "") {
		out = append(out, "username and password_file go together")
	}
	return out
}
