package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Charts are drawn here as plain SVG: no script, no font, no external
// asset, so the report opens the same in a browser with no network.

// maxRows bounds the services a chart draws (the tables list them all).
const maxRows = 40

var colors = map[string]string{
	Lost: "#c62828", Degraded: "#ef8f00", Unaffected: "#2e7d32", NoData: "#9e9e9e", "unattributed": "#6a1b9a",
	StateUp: "#2e7d32", StatePartial: "#ef8f00", StateDown: "#c62828",
}

type svg struct{ b strings.Builder }

func (s *svg) open(w, h int, title string) {
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12"><title>%s</title>`,
		w, h, w, h, html.EscapeString(title))
}

func (s *svg) text(x, y float64, anchor, txt string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x, y, anchor, html.EscapeString(txt))
}

func (s *svg) rect(x, y, w, h float64, fill, title string) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`, x, y, max(w, 0), h, fill, html.EscapeString(title))
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string, dash bool) {
	d := ""
	if dash {
		d = ` stroke-dasharray="4 3"`
	}
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"%s/>`, x1, y1, x2, y2, stroke, d)
}

func (s *svg) close() string { s.b.WriteString(`</svg>`); return s.b.String() }

// OutcomeChart compares the services predicted and observed in each outcome.
func OutcomeChart(r *Report) string {
	outcomes := []string{Lost, Degraded, Unaffected, "unattributed", NoData}
	peak := 1
	for _, o := range outcomes {
		peak = max(peak, r.Totals["predicted"][o], r.Totals["observed"][o])
	}
	const w, h, left, top, barH = 640, 230, 110, 30, 16
	var s svg
	s.open(w, h, "Services by outcome: predicted by the what-if against observed under the cut")
	s.text(left, 16, "start", "Services by outcome — predicted (light) vs observed (solid)")
	scale := float64(w-left-60) / float64(peak)
	for i, o := range outcomes {
		y := float64(top + i*40)
		s.text(left-8, y+barH+4, "end", o)
		p, ob := r.Totals["predicted"][o], r.Totals["observed"][o]
		fmt.Fprintf(&s.b, `<g data-outcome=%q>`, o)
		s.rect(left, y, float64(p)*scale, barH, colors[o]+`" fill-opacity="0.35`, fmt.Sprintf("%s predicted: %d", o, p))
		s.text(left+float64(p)*scale+4, y+12, "start", fmt.Sprint(p))
		s.rect(left, y+barH+2, float64(ob)*scale, barH, colors[o], fmt.Sprintf("%s observed: %d", o, ob))
		s.text(left+float64(ob)*scale+4, y+barH+14, "start", fmt.Sprint(ob))
		s.b.WriteString(`</g>`)
	}
	return s.close()
}

// affected are the services lost or degraded, the most severe first, at most maxRows.
func affected(r *Report) []Service {
	var out []Service
	for _, s := range r.Services {
		if s.Observed == Lost || s.Observed == Degraded {
			out = append(out, s)
			if len(out) == maxRows {
				break
			}
		}
	}
	return out
}

// TimelineChart draws each affected service's state over the drill, with
// a mark where an alert first fired and a dashed line at its RTO.
func TimelineChart(r *Report) string {
	rows := affected(r)
	const w, left, top, rowH = 760, 160, 34, 20
	h := top + max(len(rows), 1)*rowH + 30
	span := math.Max(r.Drill.Seconds, 1)
	scale := float64(w-left-20) / span
	var s svg
	s.open(w, h, "State of the affected services over the drill")
	s.text(left, 16, "start", fmt.Sprintf("State under the cut over %s (red: down everywhere, amber: partial, green: up; ◆ alert; ┆ RTO)", dur(span)))
	for i, sv := range rows {
		y := float64(top + i*rowH)
		s.text(left-8, y+13, "end", sv.Target)
		fmt.Fprintf(&s.b, `<g data-target=%q>`, sv.Target)
		for _, seg := range sv.Segments {
			s.rect(left+seg.From*scale, y+2, (seg.To-seg.From)*scale, rowH-6, colors[seg.State], fmt.Sprintf("%s: %s from %s to %s", sv.Target, seg.State, dur(seg.From), dur(seg.To)))
		}
		if sv.Detected != nil {
			x := left + *sv.Detected*scale
			fmt.Fprintf(&s.b, `<path d="M%.1f %.1f l5 6 l-5 6 l-5 -6 z" fill="#000"><title>alert fired after %s</title></path>`, x, y+2, dur(*sv.Detected))
		}
		if sv.RTO != nil && *sv.RTO <= span {
			x := left + *sv.RTO*scale
			s.line(x, y, x, y+rowH-2, "#000", true)
		}
		s.b.WriteString(`</g>`)
	}
	if len(rows) == 0 {
		s.text(left, top+14, "start", "No service was lost or degraded.")
	}
	axis := float64(top + max(len(rows), 1)*rowH + 4)
	s.line(left, axis, float64(w-20), axis, "#555", false)
	for i := 0; i <= 4; i++ {
		x := left + float64(i)*float64(w-left-20)/4
		s.text(x, axis+16, "middle", dur(span*float64(i)/4))
	}
	return s.close()
}

// RecoveryChart draws each affected service's time to recover against its RTO.
func RecoveryChart(r *Report) string {
	var rows []Service
	peak := 1.0
	for _, sv := range affected(r) {
		if sv.RTO == nil {
			continue
		}
		rows = append(rows, sv)
		peak = math.Max(peak, math.Max(*sv.RTO, r.Drill.Seconds))
	}
	const w, left, top, rowH = 760, 160, 34, 20
	h := top + max(len(rows), 1)*rowH + 10
	scale := float64(w-left-80) / peak
	var s svg
	s.open(w, h, "Time to recover against RTO")
	s.text(left, 16, "start", "Time to recover (bar; hatched: not recovered when the drill ended) against RTO (black line)")
	for i, sv := range rows {
		y := float64(top + i*rowH)
		s.text(left-8, y+13, "end", sv.Target)
		fmt.Fprintf(&s.b, `<g data-target=%q data-rto=%q>`, sv.Target, sv.RTOResult)
		fill, v := colors[Unaffected], r.Drill.Seconds
		if sv.Recovered != nil {
			v = *sv.Recovered
		} else {
			fill = colors[Lost] + `" fill-opacity="0.5`
		}
		if sv.RTOResult == RTOMissed {
			fill = colors[Lost]
		}
		s.rect(left, y+2, v*scale, rowH-6, fill, fmt.Sprintf("%s: %s, RTO %s: %s", sv.Target, dur(v), dur(*sv.RTO), sv.RTOResult))
		x := left + *sv.RTO*scale
		s.line(x, y, x, y+rowH-2, "#000", false)
		s.text(float64(w-74), y+13, "start", sv.RTOResult)
		s.b.WriteString(`</g>`)
	}
	if len(rows) == 0 {
		s.text(left, top+14, "start", "No affected service has an RTO target.")
	}
	return s.close()
}
