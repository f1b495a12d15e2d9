package rule

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
)

// The built-ins read blackbox_exporter's names (issue 21): the whole
// run's duration is the unlabelled probe_duration_seconds (the HTTP phases
// are probe_http_duration_seconds{phase} and must not count), and a
// certificate's expiry is probe_ssl_earliest_cert_expiry.
func TestBuiltinReadBlackboxNames(t *testing.T) {
	b := Builtin{LatencyFor: configfile.Duration(time.Minute)}
	targets := []TargetInfo{{ID: "slow", Sector: "finance", Criticality: 1, Interval: 15 * time.Second, LatencyObjective: time.Second},
		{ID: "quick", Sector: "finance", Criticality: 1, Interval: 15 * time.Second, LatencyObjective: time.Second}}
	w := newWorld(t, b, targets)
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	ag := []string{"agent", "home-1", "vantage", "home", "check", "http", "sector", "finance"}
	for i := 0; i <= 8; i++ {
		ts := start.Add(time.Duration(i) * 15 * time.Second)
		for _, tgt := range []string{"slow", "quick"} {
			w.add(t, ts, 1, append([]string{"__name__", "probe_success", "target", tgt}, ag...)...)
		}
		w.add(t, ts, 3, append([]string{"__name__", "probe_duration_seconds", "target", "slow"}, ag...)...)
		w.add(t, ts, 0.2, append([]string{"__name__", "probe_duration_seconds", "target", "quick"}, ag...)...)
		w.add(t, ts, 5, append([]string{"__name__", "probe_http_duration_seconds", "target", "quick", "phase", "transfer"}, ag...)...)
		w.add(t, ts, float64(ts.Add(3*24*time.Hour).Unix()), append([]string{"__name__", "probe_ssl_earliest_cert_expiry", "target", "quick"}, ag...)...)
		w.eval(ts)
	}
	got := w.firing("target", "classification")
	want := []string{
		"CertificateExpiring{target=quick,classification=certificate-expiring}",
		"LatencyAboveObjective{target=slow,classification=slow}",
	}
	if !slices.Equal(got, want) {
		t.Errorf("firing:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}
