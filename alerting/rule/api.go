package rule

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"
)

// The JSON shapes of Prometheus's /api/v1/rules and /api/v1/alerts
// (web/api/v1/api.go), so Grafana's Prometheus data source lists them.
type apiAlert struct {
	Labels          labels.Labels `json:"labels"`
	Annotations     labels.Labels `json:"annotations"`
	State           string        `json:"state"`
	ActiveAt        *time.Time    `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time    `json:"keepFiringSince,omitempty"`
	Value           string        `json:"value"`
}

type apiGroup struct {
	Name           string    `json:"name"`
	File           string    `json:"file"`
	Rules          []any     `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

type apiAlertingRule struct {
	State          string           `json:"state"`
	Name           string           `json:"name"`
	Query          string           `json:"query"`
	Duration       float64          `json:"duration"`
	KeepFiringFor  float64          `json:"keepFiringFor"`
	Labels         labels.Labels    `json:"labels"`
	Annotations    labels.Labels    `json:"annotations"`
	Alerts         []*apiAlert      `json:"alerts"`
	Health         rules.RuleHealth `json:"health"`
	LastError      string           `json:"lastError,omitempty"`
	EvaluationTime float64          `json:"evaluationTime"`
	LastEvaluation time.Time        `json:"lastEvaluation"`
	Type           string           `json:"type"`
}

type apiRecordingRule struct {
	Name           string           `json:"name"`
	Query          string           `json:"query"`
	Labels         labels.Labels    `json:"labels"`
	Health         rules.RuleHealth `json:"health"`
	LastError      string           `json:"lastError,omitempty"`
	EvaluationTime float64          `json:"evaluationTime"`
	LastEvaluation time.Time        `json:"lastEvaluation"`
	Type           string           `json:"type"`
}

func alerts(r *rules.AlertingRule) []*apiAlert {
	out := []*apiAlert{}
	for _, a := range r.ActiveAlerts() {
		aa := &apiAlert{Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(),
			ActiveAt: &a.ActiveAt, Value: strconv.FormatFloat(a.Value, 'e', -1, 64)}
		if !a.KeepFiringSince.IsZero() {
			aa.KeepFiringSince = &a.KeepFiringSince
		}
		out = append(out, aa)
	}
	return out
}

func lastError(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// ServeAlerts answers GET /api/v1/alerts.
func (m *Manager) ServeAlerts(w http.ResponseWriter, _ *http.Request) {
	all := []*apiAlert{}
	for _, r := range m.AlertingRules() {
		all = append(all, alerts(r)...)
	}
	writeJSON(w, map[string]any{"alerts": all})
}

// ServeRules answers GET /api/v1/rules[?type=alert|record].
func (m *Manager) ServeRules(w http.ResponseWriter, r *http.Request) {
	typ := r.URL.Query().Get("type")
	if typ != "" && typ != "alert" && typ != "record" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": `type must be "alert" or "record"`})
		return
	}
	groups := []*apiGroup{}
	for _, g := range m.Groups() {
		ag := &apiGroup{Name: g.Name(), File: g.File(), Rules: []any{}, Interval: g.Interval().Seconds(), Limit: g.Limit(),
			EvaluationTime: g.GetEvaluationTime().Seconds(), LastEvaluation: g.GetLastEvaluation()}
		for _, rl := range g.Rules() {
			switch rl := rl.(type) {
			case *rules.AlertingRule:
				if typ == "record" {
					continue
				}
				ag.Rules = append(ag.Rules, apiAlertingRule{State: rl.State().String(), Name: rl.Name(), Query: rl.Query().String(),
					Duration: rl.HoldDuration().Seconds(), KeepFiringFor: rl.KeepFiringFor().Seconds(), Labels: rl.Labels(),
					Annotations: rl.Annotations(), Alerts: alerts(rl), Health: rl.Health(), LastError: lastError(rl.LastError()),
					EvaluationTime: rl.GetEvaluationDuration().Seconds(), LastEvaluation: rl.GetEvaluationTimestamp(), Type: "alerting"})
			case *rules.RecordingRule:
				if typ == "alert" {
					continue
				}
				ag.Rules = append(ag.Rules, apiRecordingRule{Name: rl.Name(), Query: rl.Query().String(), Labels: rl.Labels(),
					Health: rl.Health(), LastError: lastError(rl.LastError()), EvaluationTime: rl.GetEvaluationDuration().Seconds(),
					LastEvaluation: rl.GetEvaluationTimestamp(), Type: "recording"})
			}
		}
		if len(ag.Rules) > 0 {
			groups = append(groups, ag)
		}
	}
	writeJSON(w, map[string]any{"groups": groups})
}

func writeJSON(w http.ResponseWriter, data any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}
