package selfmetrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulwark_agent_pushes_total", Help: "h"}, []string{"result"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "bulwark_agent_queue_bytes", Help: "h"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bulwark_agent_lateness_seconds", Help: "h", Buckets: []float64{0.005, 1}})
	s := prometheus.NewSummary(prometheus.SummaryOpts{Name: "bulwark_agent_rtt_seconds", Help: "h", Objectives: map[float64]float64{0.5: 0.05}})
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "go_threads_x", Help: "h"})
	reg.MustRegister(c, g, h, s, other)
	c.WithLabelValues("ok").Add(3)
	g.Set(42)
	h.Observe(0.5)
	s.Observe(2)
	series, err := Series(reg, Prefix("bulwark_agent_"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range series {
		var parts []string
		for i, l := range s.Labels {
			if i > 0 && s.Labels[i-1].Name >= l.Name {
				t.Fatalf("labels not sorted: %v", s.Labels)
			}
			parts = append(parts, l.Name+"="+l.Value)
		}
		if s.Samples[0].Timestamp != 1000 {
			t.Fatalf("timestamp %d", s.Samples[0].Timestamp)
		}
		got[strings.Join(parts, ",")] = s.Samples[0].Value
	}
	for k, v := range map[string]float64{
		"__name__=bulwark_agent_pushes_total,result=ok":           3,
		"__name__=bulwark_agent_queue_bytes":                      42,
		"__name__=bulwark_agent_lateness_seconds_bucket,le=0.005": 0,
		"__name__=bulwark_agent_lateness_seconds_bucket,le=1":     1,
		"__name__=bulwark_agent_lateness_seconds_bucket,le=+Inf":  1,
		"__name__=bulwark_agent_lateness_seconds_sum":             0.5,
		"__name__=bulwark_agent_lateness_seconds_count":           1,
		"__name__=bulwark_agent_rtt_seconds,quantile=0.5":         2,
		"__name__=bulwark_agent_rtt_seconds_count":                1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if _, ok := got["__name__=go_threads_x"]; ok {
		t.Error("a family outside the prefix was kept")
	}
}
