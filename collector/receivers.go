package collector

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/alerting/notify/email"
	"github.com/bulwarkhq/bulwark/alerting/notify/slack"
	"github.com/bulwarkhq/bulwark/alerting/notify/webhook"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// receivers builds the configured receivers, reading their secrets.
func (a *App) receivers(ac collectorconfig.Alerting) (map[string]alerting.Receiver, error) {
	out := map[string]alerting.Receiver{}
	for _, r := range ac.Receivers {
		rcv, err := a.receiver(r, ac.ConsoleURL)
		if err != nil {
			return nil, fmt.Errorf("collector: receiver %s: %w", r.Name, err)
		}
		out[r.Name] = rcv
	}
	return out, nil
}

// receiverBuilders make each kind of notifier of collectorconfig's
// ReceiverKinds from its settings, reading its secrets: the one place a
// notifier is built. TestReceiverKindsBuilt fails when a kind the
// configuration accepts has no builder here, or a builder no kind.
var receiverBuilders = map[string]func(a *App, r collectorconfig.Receiver, consoleURL string) (alerting.Receiver, error){
	"slack":   (*App).slackReceiver,
	"webhook": (*App).webhookReceiver,
	"email":   (*App).emailReceiver,
	"discard": func(*App, collectorconfig.Receiver, string) (alerting.Receiver, error) {
		return alerting.Discard{}, nil
	},
}

func (a *App) receiver(r collectorconfig.Receiver, consoleURL string) (alerting.Receiver, error) {
	build := receiverBuilders[r.Kind()]
	if build == nil {
		return nil, fmt.Errorf("no kind of receiver set")
	}
	return build(a, r, consoleURL)
}

// slackReceiver posts through an incoming webhook, or with a bot token
// (with a signing secret, its messages get buttons).
func (a *App) slackReceiver(r collectorconfig.Receiver, consoleURL string) (alerting.Receiver, error) {
	if r.Slack.WebhookURLFile != "" {
		u, err := configfile.Secret(r.Slack.WebhookURLFile, "")
		if err != nil {
			return nil, err
		}
		return slack.New(slack.Options{WebhookURL: u, ConsoleURL: consoleURL})
	}
	tok, err := configfile.Secret(r.Slack.TokenFile, r.Slack.TokenEnv)
	if err != nil {
		return nil, err
	}
	if r.Slack.SigningSecretFile != "" {
		if a.slackSecret, err = configfile.Secret(r.Slack.SigningSecretFile, ""); err != nil {
			return nil, err
		}
	}
	return slack.New(slack.Options{Token: tok, Channel: r.Slack.Channel, APIURL: r.Slack.APIURL, ConsoleURL: consoleURL,
		Interactive: r.Slack.SigningSecretFile != ""})
}

func (a *App) webhookReceiver(r collectorconfig.Receiver, consoleURL string) (alerting.Receiver, error) {
	u, err := configfile.Secret(r.Webhook.URLFile, "")
	if r.Webhook.URLFile == "" {
		u, err = r.Webhook.URL, nil
	}
	if err != nil {
		return nil, err
	}
	var secret string
	if r.Webhook.SecretFile != "" {
		if secret, err = configfile.Secret(r.Webhook.SecretFile, ""); err != nil {
			return nil, err
		}
	}
	return &webhook.Receiver{URL: u, Secret: []byte(secret), ExternalURL: consoleURL}, nil
}

func (a *App) emailReceiver(r collectorconfig.Receiver, consoleURL string) (alerting.Receiver, error) {
	e := r.Email
	rcv := &email.Receiver{Smarthost: e.Smarthost, From: e.From, To: e.To, Hello: e.Hello, Username: e.Username,
		AllowPlaintext: e.AllowPlaintext, ConsoleURL: consoleURL}
	if e.PasswordFile != "" {
		var err error
		if rcv.Password, err = configfile.Secret(e.PasswordFile, ""); err != nil {
			return nil, err
		}
	}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("email ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("email ca_file %s: no PEM certificate in it", e.CAFile)
		}
		rcv.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return rcv, rcv.Validate()
}
