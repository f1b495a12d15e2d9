package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/alerting"
)

// A terminal shows no time of its own: each printed notification carries
// it (issue 20, defect 12).
func TestPrinterStampsTime(t *testing.T) {
	var b strings.Builder
	at := time.Date(2026, 12, 7, 17, 58, 3, 0, time.UTC)
	p := &Printer{W: &b, Now: func() time.Time { return at }}
	n := &alerting.Notification{Receiver: "terminal", Status: "firing", Alerts: []*alerting.Alert{
		{Labels: labels.FromStrings("alertname", "LatencyAboveObjective", "target", "card-switch"), StartsAt: at}}}
	if _, err := p.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "── notification to terminal at 2026-12-07 17:58:03 UTC ──") {
		t.Errorf("printed:\n%s", b.String())
	}
}
