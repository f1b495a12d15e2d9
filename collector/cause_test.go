package collector

import (
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/alerting"
)

// A shared cause explains an outage: the console names one for the
// services down, never for a group of sovereignty, certificate or latency
// alerts (issue 20, defect 10: "ForeignCriticalLayerNew: 48 services"
// came with a "probable shared cause").
func TestCauseOnlyForAvailability(t *testing.T) {
	al := func(kv ...string) *alerting.Alert { return &alerting.Alert{Labels: labels.FromStrings(kv...)} }
	alerts := []*alerting.Alert{
		al("alertname", "ForeignCriticalLayerNew", "classification", "foreign-critical", "target", "gas-transport"),
		al("alertname", "ServiceDownEverywhere", "classification", "down-everywhere", "target", "tax-office"),
		al("alertname", "ServiceDownOnOneVantage", "classification", "down-on-one-vantage", "target", "grid"),
		al("alertname", "ServiceDownFromAbroadOnly", "classification", "down-from-abroad-only", "target", "elections"),
		al("alertname", "LatencyAboveObjective", "classification", "slow", "target", "card-switch"),
	}
	if got := availabilityDown(alerts); !slices.Equal(got, []string{"elections", "tax-office"}) {
		t.Errorf("services for a shared cause: %v", got)
	}
	if got := availabilityDown(alerts[:1]); len(got) != 0 {
		t.Errorf("sovereignty alerts alone: %v, want none", got)
	}
}
