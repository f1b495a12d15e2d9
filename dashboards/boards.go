package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/geomap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// prod selects production series: a drill's carry its drill label.
const prod = `drill=""`

func (bd *board) stat(title, expr, unit string, w uint32) {
	bd.b = bd.b.WithPanel(stat.NewPanelBuilder().Title(title).Datasource(ds).GridPos(bd.place(w, 4)).Unit(unit).
		WithTarget(bd.q(title, expr, "", false).Instant()).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeArea))
}

// series is a time-series panel; each query is expr, legend pairs.
func (bd *board) series(title, unit string, w, h uint32, exprLegend ...string) {
	p := timeseries.NewPanelBuilder().Title(title).Datasource(ds).GridPos(bd.place(w, h)).Unit(unit)
	for i := 0; i+1 < len(exprLegend); i += 2 {
		p = p.WithTarget(bd.q(title, exprLegend[i], exprLegend[i+1], false))
	}
	bd.b = bd.b.WithPanel(p)
}

// table is an instant table; noValue is what it says when expr is empty
// (then rightly so: nothing down, no drift).
func (bd *board) table(title, expr, noValue string, w, h uint32) {
	bd.b = bd.b.WithPanel(table.NewPanelBuilder().Title(title).Datasource(ds).GridPos(bd.place(w, h)).NoValue(noValue).
		WithTarget(bd.q(title, expr, "", noValue != "").Instant().Format(prometheus.PromQueryFormatTable)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "__name__": true}}}))
}

func overview() *board {
	bd := newBoard("bulwark-overview", "Bulwark — national overview",
		"Are the nation's critical services up, seen from home and abroad, by sector and criticality; what is down now and the open incidents.")
	bd.variable("sector", "Sector", `label_values(probe_success, sector)`, true)
	sel := `{` + prod + `,sector=~"$sector"}`
	bd.stat("Services up", `count(bulwark_target_availability{classification="up",`+prod+`,sector=~"$sector"}) or vector(0)`, "none", 6)
	bd.stat("Down everywhere", `count(bulwark_target_availability{classification="down-everywhere",`+prod+`,sector=~"$sector"}) or vector(0)`, "none", 6)
	bd.stat("Down from one side", `count(bulwark_target_availability{classification=~"down-from-.*",`+prod+`,sector=~"$sector"}) or vector(0)`, "none", 6)
	bd.stat("Open incidents", `sum(bulwark_incidents{state="firing"}) or vector(0)`, "none", 6)
	bd.series("Availability by sector", "percentunit", 12, 8,
		`avg by (sector) (max by (sector, target) (probe_success{check!="deps",`+prod+`,sector=~"$sector"}))`, "{{sector}}")
	bd.series("Availability by criticality", "percentunit", 12, 8,
		`avg by (criticality) (max by (target) (probe_success{check!="deps",`+prod+`,sector=~"$sector"}) * on (target) group_left (criticality) (bulwark_target_cert_warning_days > bool 0))`, "criticality {{criticality}}")
	bd.table("Services not up now, with their vantage classification",
		`bulwark_target_availability{classification!="up",`+prod+`,sector=~"$sector"}`, "Every service answers from every vantage.", 12, 9)
	bd.table("Open incidents", `ALERTS{alertstate="firing",`+prod+`,sector=~"$sector"}`, "No alert is firing.", 12, 9)
	bd.series("Probe duration by sector (p90 of services)", "s", 24, 8,
		`quantile by (sector) (0.9, max by (sector, target) (probe_duration_seconds{check!="deps",`+sel[1:]+`))`, "{{sector}}")
	return bd
}

func service() *board {
	bd := newBoard("bulwark-service", "Bulwark — service detail",
		"One service from every vantage: success, the time of each phase, HTTP status, certificate.")
	bd.variable("target", "Service", `label_values(probe_success, target)`, false)
	t := `target="$target",` + prod
	bd.stat("Up from (agents)", `sum(max by (agent) (probe_success{check!="deps",`+t+`}))`, "none", 6)
	bd.stat("Certificate expires in", `(min(probe_ssl_earliest_cert_expiry{`+t+`}) - time()) or vector(0)`, "s", 6)
	bd.stat("Foreign dependency score", `max(bulwark_foreign_dependency_score{target="$target"}) or vector(0)`, "percentunit", 6)
	bd.stat("HTTP status", `max(probe_http_status_code{`+t+`}) or vector(0)`, "none", 6)
	bd.series("Success by vantage", "none", 12, 8, `min by (vantage) (probe_success{check!="deps",`+t+`})`, "{{vantage}}")
	bd.series("HTTP phases", "s", 12, 8, `avg by (phase) (probe_http_duration_seconds{`+t+`})`, "{{phase}}")
	bd.series("Total duration by vantage", "s", 12, 8, `max by (vantage) (probe_duration_seconds{check!="deps",`+t+`})`, "{{vantage}}")
	bd.table("Why probes fail", `probe_failure_info{`+t+`}`, "No probe of this service is failing.", 12, 8)
	return bd
}

func sovereignty() *board {
	bd := newBoard("bulwark-sovereignty", "Bulwark — sovereignty",
		"How far services depend on infrastructure under foreign control: by sector and layer, jurisdictions, provider concentration, drift, and what is not yet attributed.")
	bd.variable("sector", "Sector", `label_values(bulwark_foreign_dependency_score, sector)`, true)
	s := `sector=~"$sector"`
	bd.stat("Mean foreign dependency", `avg(bulwark_foreign_dependency_score{`+s+`})`, "percentunit", 8)
	bd.stat("Layers foreign-critical", `count(bulwark_layer_state{state="foreign-critical",`+s+`}) or vector(0)`, "none", 8)
	bd.stat("Unattributed share of layers", `(count(bulwark_layer_state{state="unattributed",`+s+`}) or vector(0)) / count(bulwark_layer_state{`+s+`})`, "percentunit", 8)
	bd.series("Foreign dependency by sector", "percentunit", 12, 8, `avg by (sector) (bulwark_foreign_dependency_score{`+s+`})`, "{{sector}}")
	bd.series("Foreign dependency by layer", "percentunit", 12, 8, `avg by (layer) (bulwark_layer_state{`+s+`})`, "{{layer}}")
	geo := geomap.NewPanelBuilder().Title("Jurisdictions services depend on").Datasource(ds).GridPos(bd.place(12, 10)).
		WithTarget(bd.q("Jurisdictions services depend on", `count by (jurisdiction) (count by (jurisdiction, target) (bulwark_dependency_info{jurisdiction!="",`+s+`}))`, "", false).Instant().Format(prometheus.PromQueryFormatTable)).
		View(geomap.NewMapViewConfigBuilder().Id("zero").Zoom(1)).
		Layers([]cog.Builder[common.MapLayerOptions]{common.NewMapLayerOptionsBuilder().Type("markers").Name("Jurisdictions").
			Location(common.NewFrameGeometrySourceBuilder().Mode(common.FrameGeometrySourceModeLookup).Lookup("jurisdiction").Gazetteer("public/gazetteer/countries.json"))})
	bd.b = bd.b.WithPanel(geo)
	bd.table("Provider concentration (services per provider, critical layers)",
		`sort_desc(count by (provider, jurisdiction) (count by (provider, jurisdiction, target) (bulwark_dependency_info{layer=~"dns|hosting|cdn",provider!="",`+s+`})))`, "", 12, 10)
	bd.table("Drift: layers that changed provider or jurisdiction", `ALERTS{alertname="DependencyDrift",`+s+`}`, "No drift in the last day.", 12, 8)
	bd.table("Largest unattributed dependencies", `topk(20, count by (name, layer) (bulwark_dependency_info{jurisdiction="",`+s+`}))`, "Every dependency is attributed.", 12, 8)
	return bd
}

func alertingBoard() *board {
	bd := newBoard("bulwark-alerting", "Bulwark — alerting",
		"What fires, what is acknowledged, and how fast on-call staff are told.")
	bd.stat("Firing alerts", `count(ALERTS{alertstate="firing",`+prod+`}) or vector(0)`, "none", 6)
	bd.stat("Incidents", `sum(bulwark_incidents{state="firing"}) or vector(0)`, "none", 6)
	bd.stat("Acknowledged", `sum(bulwark_incidents{state="acknowledged"}) or vector(0)`, "none", 6)
	bd.stat("Notifications failed (1h)", `sum(increase(bulwark_notifications_failed_total[1h])) or vector(0)`, "none", 6)
	bd.series("Firing by alert", "none", 12, 8, `count by (alertname) (ALERTS{alertstate="firing",`+prod+`})`, "{{alertname}}")
	bd.series("Notification latency (alert active to first notification)", "s", 12, 8,
		`histogram_quantile(0.5, sum by (le) (rate(bulwark_notifications_latency_seconds_bucket[$__rate_interval])))`, "p50",
		`histogram_quantile(0.99, sum by (le) (rate(bulwark_notifications_latency_seconds_bucket[$__rate_interval])))`, "p99")
	bd.series("Notifications by receiver", "ops", 12, 8,
		`sum by (receiver) (rate(bulwark_notifications_sent_total[$__rate_interval]))`, "sent {{receiver}}",
		`sum by (receiver) (rate(bulwark_notifications_failed_total[$__rate_interval]))`, "failed {{receiver}}")
	bd.table("Firing now", `ALERTS{alertstate="firing",`+prod+`}`, "No alert is firing.", 12, 8)
	return bd
}

func agents() *board {
	bd := newBoard("bulwark-agents", "Bulwark — agents",
		"The vantage points: are they pushing, how full are their queues, how late are their probes.")
	bd.variable("agent", "Agent", `label_values(bulwark_agent_queue_pending_samples, agent)`, true)
	a := `agent=~"$agent"`
	bd.stat("Agents pushing", `count(time() - bulwark_agent_last_push_timestamp_seconds < 120) or vector(0)`, "none", 8)
	bd.stat("Samples queued", `sum(bulwark_agent_queue_pending_samples{`+a+`})`, "none", 8)
	bd.stat("Samples dropped (1h)", `sum(increase(bulwark_agent_queue_dropped_samples_total{`+a+`}[1h])) or vector(0)`, "none", 8)
	bd.series("Since last push", "s", 12, 8, `time() - bulwark_agent_last_push_timestamp_seconds{`+a+`}`, "{{agent}}")
	bd.series("Queue depth", "none", 12, 8, `bulwark_agent_queue_pending_samples{`+a+`}`, "{{agent}}")
	bd.series("Push requests by status", "reqps", 12, 8, `sum by (agent, code) (rate(bulwark_agent_push_requests_total{`+a+`}[$__rate_interval]))`, "{{agent}} {{code}}")
	bd.series("Probe start lateness (p99)", "s", 12, 8,
		`histogram_quantile(0.99, sum by (agent, le) (rate(bulwark_agent_schedule_lateness_seconds_bucket{`+a+`}[$__rate_interval])))`, "{{agent}}")
	bd.series("Probes by result", "ops", 24, 8, `sum by (agent, result) (rate(bulwark_agent_probes_total{`+a+`}[$__rate_interval]))`, "{{agent}} {{result}}")
	return bd
}
