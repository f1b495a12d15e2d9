// Package dashboards is Bulwark's Grafana dashboards as code, built with
// the Grafana Foundation SDK: national overview, service detail,
// sovereignty, alerting and agents. `go generate ./dashboards` writes
// them to json/; a test fails when the committed JSON is not what this
// code makes, and another parses and evaluates every panel's query
// against the demo world. Data sources are template variables, never
// fixed UIDs, so the dashboards import into any Grafana.
package dashboards

//lint:file-ignore SA1019 The classic (v1) dashboard model is what Grafana's file provisioning and import read in every version a CERT runs; dashboardv2 needs Grafana 12's new API.

//go:generate go run ./gen

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Query is one panel query, for the tests.
type Query struct {
	Dashboard, Panel, Expr string
	// Empty says the query may rightly return nothing (nothing down, no
	// drift): its panel then shows its no-value text, not a blank.
	Empty bool
}

// Board is one dashboard, its file name under json/ and its queries.
type Board struct {
	File    string
	UID     string
	Title   string
	Queries []Query
	built   dashboard.Dashboard
}

// JSON is the dashboard as Grafana imports it.
func (b *Board) JSON() ([]byte, error) {
	out, err := json.MarshalIndent(b.built, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboards: %s: %w", b.File, err)
	}
	return append(out, '\n'), nil
}

// All builds every dashboard.
func All() ([]*Board, error) {
	var out []*Board
	for _, f := range []func() *board{overview, service, sovereignty, alertingBoard, agents} {
		bd := f()
		d, err := bd.b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboards: %s: %w", bd.uid, err)
		}
		out = append(out, &Board{File: bd.uid + ".json", UID: bd.uid, Title: bd.title, Queries: bd.queries, built: d})
	}
	return out, nil
}

// board lays panels out left to right, then down, on Grafana's 24-column grid.
type board struct {
	uid, title string
	b          *dashboard.DashboardBuilder
	queries    []Query
	x, y, rowH uint32
}

// ds is the data source of every panel: the dashboard's variable.
var ds = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

func newBoard(uid, title, desc string, tags ...string) *board {
	b := dashboard.NewDashboardBuilder(title).Uid(uid).Description(desc).Tags(append([]string{"bulwark"}, tags...)).
		Refresh("1m").Time("now-6h", "now").Timezone(common.TimeZoneBrowser).Editable().
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		Link(dashboard.NewDashboardLinkBuilder("Bulwark").Type(dashboard.DashboardLinkTypeDashboards).Tags([]string{"bulwark"}).AsDropdown(true))
	return &board{uid: uid, title: title, b: b}
}

// variable adds a query variable over a label's values.
func (bd *board) variable(name, label, query string, all bool) {
	v := dashboard.NewQueryVariableBuilder(name).Label(label).Datasource(ds).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if all {
		v = v.IncludeAll(true).AllValue(".*").Multi(true).Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("All")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")}})
	}
	bd.b = bd.b.WithVariable(v)
}

// place returns the grid position of the next panel w columns wide.
func (bd *board) place(w, h uint32) dashboard.GridPos {
	if bd.x+w > 24 {
		bd.x, bd.y, bd.rowH = 0, bd.y+bd.rowH, 0
	}
	p := dashboard.GridPos{X: bd.x, Y: bd.y, W: w, H: h}
	bd.x += w
	bd.rowH = max(bd.rowH, h)
	return p
}

// q records and builds a query of panel.
func (bd *board) q(panel, expr, legend string, empty bool) *prometheus.DataqueryBuilder {
	bd.queries = append(bd.queries, Query{Dashboard: bd.uid, Panel: panel, Expr: expr, Empty: empty})
	q := prometheus.NewDataqueryBuilder().Datasource(ds).Expr(expr).RefId(string(rune('A' + countPanel(bd.queries, panel) - 1)))
	if legend != "" {
		q = q.LegendFormat(legend)
	}
	return q
}

func countPanel(qs []Query, panel string) int {
	n := 0
	for _, q := range qs {
		if q.Panel == panel {
			n++
		}
	}
	return n
}

// Expand sets the dashboards' variables in expr as a test or a reader
// would: every sector and agent, one target, a five-minute rate window.
func Expand(expr, target string) string {
	return strings.NewReplacer("$__rate_interval", "5m", "$sector", ".*", "$agent", ".*", "$target", target).Replace(expr)
}
