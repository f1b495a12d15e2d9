package collector

import (
	"slices"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// Every kind of notifier the configuration accepts has a builder, and
// every builder a kind: a notifier half-registered fails here.
func TestReceiverKindsBuilt(t *testing.T) {
	kinds := collectorconfig.ReceiverKinds()
	for _, k := range kinds {
		if receiverBuilders[k] == nil {
			t.Errorf("receiver kind %q (collectorconfig/receiverkinds.go) has no builder in collector/receivers.go", k)
		}
	}
	for k := range receiverBuilders {
		if !slices.Contains(kinds, k) {
			t.Errorf("builder %q is no receiver kind of collectorconfig", k)
		}
	}
	a := &App{}
	rcv, err := a.receiver(collectorconfig.Receiver{Name: "x", Webhook: &collectorconfig.WebhookReceiver{URL: "http://127.0.0.1:1/"}}, "")
	if err != nil || rcv == nil {
		t.Errorf("webhook: %v", err)
	}
	if _, err := a.receiver(collectorconfig.Receiver{Name: "x"}, ""); err == nil {
		t.Error("a receiver of no kind was built")
	}
}
