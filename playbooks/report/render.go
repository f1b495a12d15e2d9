package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTmpl string

var funcs = template.FuncMap{
	"secs": func(p *float64) string {
		if p == nil {
			return "—"
		}
		return dur(*p)
	},
	"dur":  dur,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"join": strings.Join,
	"svg":  func(s string) template.HTML { return template.HTML(s) }, // drawn by this package, every text escaped
	"list": func(ss ...string) []string { return ss },
	"detail": func(raw json.RawMessage) string {
		if len(raw) > 300 {
			return string(raw[:300]) + "…"
		}
		return string(raw)
	},
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(htmlTmpl))

// HTML renders r as one self-contained page: inline style, inline SVG,
// no script and no link to anything.
func HTML(r *Report) ([]byte, error) {
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{"R": r, "Outcomes": OutcomeChart(r), "Timeline": TimelineChart(r), "Recovery": RecoveryChart(r)})
	if err != nil {
		return nil, fmt.Errorf("report: html: %w", err)
	}
	return b.Bytes(), nil
}

// JSON renders r as indented JSON.
func JSON(r *Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: json: %w", err)
	}
	return append(b, '\n'), nil
}

// mdEscape keeps a value from breaking a Markdown table.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func orDash(p *float64) string {
	if p == nil {
		return "—"
	}
	return dur(*p)
}

// Markdown renders r for a document or a ticket; the charts are in the
// HTML report.
func Markdown(r *Report) []byte {
	var b bytes.Buffer
	d := r.Drill
	fmt.Fprintf(&b, "# Drill report: %s\n\n", mdEscape(d.Scenario))
	fmt.Fprintf(&b, "**Verdict: %s**\n\n", strings.ToUpper(r.Verdict))
	fmt.Fprintf(&b, "| | |\n|---|---|\n| Drill | %s |\n| Scenario (cut) | %s |\n| Started | %s by %s |\n", d.ID, mdEscape(d.Scenario), d.Started.UTC().Format(time.RFC3339), mdEscape(d.StartedBy))
	if !d.Ended.IsZero() {
		fmt.Fprintf(&b, "| Ended | %s by %s |\n", d.Ended.UTC().Format(time.RFC3339), mdEscape(d.EndedBy))
	} else {
		b.WriteString("| Ended | still running when this report was made |\n")
	}
	fmt.Fprintf(&b, "| Duration | %s |\n| Cut-set | %d address ranges, %d name servers |\n| Generated | %s |\n\n", dur(d.Seconds), d.Prefixes, d.Names, r.Generated.Format(time.RFC3339))
	if len(r.Conditions) > 0 {
		b.WriteString("## Conditions and findings\n\n")
		for _, c := range r.Conditions {
			fmt.Fprintf(&b, "- %s\n", mdEscape(c))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Services: predicted and observed\n\n| Outcome | Predicted | Observed |\n|---|---:|---:|\n")
	for _, o := range []string{Lost, Degraded, Unaffected, "unattributed", NoData} {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", o, r.Totals["predicted"][o], r.Totals["observed"][o])
	}
	b.WriteString("\n## Affected services and differences\n\n| Service | Sector | Crit. | Predicted | Observed | First failure | Detected (alert) | Recovered | RTO | RTO result | Difference |\n|---|---|---:|---|---|---:|---:|---:|---:|---|---|\n")
	unaffected := 0
	for _, s := range r.Services {
		if s.Observed == Unaffected && s.Difference == "" {
			unaffected++
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(s.Target), mdEscape(s.Sector), s.Criticality,
			s.Predicted, s.Observed, orDash(s.FirstFailure), orDash(s.Detected), orDash(s.Recovered), orDash(s.RTO), s.RTOResult, mdEscape(s.Difference))
	}
	fmt.Fprintf(&b, "\n%d more services answered under the cut as predicted.\n\n", unaffected)
	b.WriteString("## Agents enforcing the cut\n\n| Agent | Took up the cut after |\n|---|---:|\n")
	for _, a := range r.Agents {
		fmt.Fprintf(&b, "| %s | %s |\n", mdEscape(a.Agent), dur(a.Seconds))
	}
	b.WriteString("\n## Playbook timeline\n\n| Time | Playbook | Run | Who | Action | Detail |\n|---|---|---|---|---|---|\n")
	for _, e := range r.Timeline {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", e.At.UTC().Format(time.RFC3339), mdEscape(e.Playbook), e.Run, mdEscape(e.User), mdEscape(e.Action), mdEscape(funcs["detail"].(func(json.RawMessage) string)(e.Detail)))
	}
	return b.Bytes()
}
