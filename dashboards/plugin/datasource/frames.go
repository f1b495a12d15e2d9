package datasource

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// service is a service as the collector's graph view draws it
// (/api/v1/dependencies?view=graph).
type service struct {
	Target     string  `json:"target"`
	Sector     string  `json:"sector"`
	Score      float64 `json:"score"`
	WorstState string  `json:"worst_state"`
	Layers     []struct {
		Layer     string `json:"layer"`
		State     string `json:"state"`
		Providers []struct {
			ID           string `json:"id"`
			Name         string `json:"name"`
			Jurisdiction string `json:"jurisdiction"`
			Foreign      bool   `json:"foreign"`
			Unattributed bool   `json:"unattributed"`
		} `json:"providers"`
	} `json:"layers"`
}

// graphPath is the collector's graph view of the dependency graphs.
const graphPath = "/api/v1/dependencies?view=graph"

// Query is a panel's query (its JSON; the query type is the DataQuery's).
type Query struct {
	// Target and Sector narrow the graph; Limit bounds its services
	// (default 500: a node graph of thousands is not read by anyone).
	Target string `json:"target"`
	Sector string `json:"sector"`
	Limit  int    `json:"limit"`
	// Cut is the what-if's: countries, providers, asns, cidrs.
	Countries []string `json:"countries"`
	Providers []string `json:"providers"`
	ASNs      []string `json:"asns"`
	CIDRs     []string `json:"cidrs"`
}

// Query types.
const (
	TypeGraph     = "graph"
	TypeWhatIf    = "whatif"
	TypeIncidents = "incidents"
	TypeDrift     = "drift"
	TypeDrills    = "drills"
)

// QueryData answers each query of the request.
func (in *Instance) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, dq := range req.Queries {
		var q Query
		if len(dq.JSON) > 0 {
			if err := json.Unmarshal(dq.JSON, &q); err != nil {
				resp.Responses[dq.RefID] = backend.ErrDataResponse(backend.StatusBadRequest, "query: "+err.Error())
				continue
			}
		}
		frames, err := in.query(ctx, cmp.Or(dq.QueryType, TypeGraph), q)
		if err != nil {
			resp.Responses[dq.RefID] = backend.ErrDataResponse(backend.StatusBadGateway, err.Error())
			continue
		}
		resp.Responses[dq.RefID] = backend.DataResponse{Frames: frames}
	}
	return resp, nil
}

func (in *Instance) query(ctx context.Context, kind string, q Query) (data.Frames, error) {
	switch kind {
	case TypeGraph:
		var deps []service
		if err := in.get(ctx, graphPath, true, &deps); err != nil {
			return nil, err
		}
		return Graph(deps, q), nil
	case TypeWhatIf:
		return in.whatIf(ctx, q)
	case TypeIncidents:
		return in.incidents(ctx)
	case TypeDrift:
		return in.drift(ctx, q)
	case TypeDrills:
		return in.drills(ctx)
	}
	return nil, fmt.Errorf("unknown query type %q: graph, whatif, incidents, drift or drills", kind)
}

// stateColor colours a layer state or a provider's standing.
var stateColor = map[string]string{
	"domestic": "green", "foreign-redundant": "yellow", "foreign-multi": "orange", "foreign-critical": "red", "unattributed": "purple", "": "gray",
}

// Graph makes the node graph: a node per service (coloured by its worst
// layer, its score as main stat) and per provider (coloured foreign,
// domestic or unattributed, its jurisdiction as detail), an edge per
// layer a service depends on a provider for.
func Graph(deps []service, q Query) data.Frames {
	limit := q.Limit
	if limit <= 0 {
		limit = 500
	}
	slices.SortFunc(deps, func(a, b service) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.Target, b.Target))
	})
	nid, ntitle, nsub, ncolor, njur := []string{}, []string{}, []string{}, []string{}, []string{}
	nstat := []float64{}
	eid, esrc, edst, estat, ecolor := []string{}, []string{}, []string{}, []string{}, []string{}
	providers := map[string]int{}
	counted := map[string]string{} // provider node -> the last service counted for it
	n := 0
	for _, s := range deps {
		if (q.Target != "" && s.Target != q.Target) || (q.Sector != "" && s.Sector != q.Sector) {
			continue
		}
		if n++; n > limit {
			break
		}
		id := "service:" + s.Target
		nid, ntitle, nsub, nstat = append(nid, id), append(ntitle, s.Target), append(nsub, s.Sector), append(nstat, s.Score)
		ncolor, njur = append(ncolor, stateColor[s.WorstState]), append(njur, "")
		for _, l := range s.Layers {
			for _, p := range l.Providers {
				pid := "provider:" + p.ID
				if _, ok := providers[pid]; !ok {
					providers[pid] = len(nid)
					color := "green"
					switch {
					case p.Unattributed:
						color = "purple"
					case p.Foreign:
						color = "red"
					}
					nid, ntitle, nsub = append(nid, pid), append(ntitle, cmp.Or(p.Name, p.ID)), append(nsub, cmp.Or(p.Jurisdiction, "?"))
					nstat, ncolor, njur = append(nstat, 0), append(ncolor, color), append(njur, cmp.Or(p.Jurisdiction, "unattributed"))
				}
				if counted[pid] != id { // services depending on it, each once
					counted[pid] = id
					nstat[providers[pid]]++
				}
				eid, esrc, edst = append(eid, id+">"+pid+">"+l.Layer), append(esrc, id), append(edst, pid)
				estat, ecolor = append(estat, l.Layer+": "+cmp.Or(l.State, "?")), append(ecolor, stateColor[l.State])
			}
		}
	}
	nodes := data.NewFrame("nodes",
		data.NewField("id", nil, nid), data.NewField("title", nil, ntitle), data.NewField("subtitle", nil, nsub),
		data.NewField("mainstat", nil, nstat), data.NewField("color", nil, ncolor), data.NewField("detail__jurisdiction", nil, njur))
	nodes.Fields[3].Config = &data.FieldConfig{DisplayName: "score, or services depending on it"}
	nodes.Fields[4].Config = &data.FieldConfig{Color: map[string]any{"mode": "field"}}
	nodes.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeNodeGraph})
	edges := data.NewFrame("edges", data.NewField("id", nil, eid), data.NewField("source", nil, esrc), data.NewField("target", nil, edst),
		data.NewField("mainstat", nil, estat), data.NewField("color", nil, ecolor))
	edges.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeNodeGraph})
	return data.Frames{nodes, edges}
}

func (in *Instance) whatIf(ctx context.Context, q Query) (data.Frames, error) {
	v := url.Values{"country": q.Countries, "provider": q.Providers, "asn": q.ASNs, "cidr": q.CIDRs}
	var w struct {
		Cut      string         `json:"cut"`
		Totals   map[string]int `json:"totals"`
		Services []struct {
			Target, Sector, Outcome string
			Criticality             int
			Reasons                 []string
		} `json:"services"`
	}
	if err := in.get(ctx, "/api/v1/whatif?"+v.Encode(), true, &w); err != nil {
		return nil, err
	}
	slices.SortFunc(w.Services, func(a, b struct {
		Target, Sector, Outcome string
		Criticality             int
		Reasons                 []string
	}) int {
		return cmp.Or(strings.Compare(a.Outcome, b.Outcome), strings.Compare(a.Target, b.Target))
	})
	var target, sector, outcome, reasons []string
	var crit []int64
	for _, s := range w.Services {
		target, sector, outcome = append(target, s.Target), append(sector, s.Sector), append(outcome, s.Outcome)
		crit, reasons = append(crit, int64(s.Criticality)), append(reasons, strings.Join(s.Reasons, "; "))
	}
	f := data.NewFrame("whatif", data.NewField("target", nil, target), data.NewField("sector", nil, sector),
		data.NewField("criticality", nil, crit), data.NewField("outcome", nil, outcome), data.NewField("reasons", nil, reasons))
	f.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeTable, Notices: []data.Notice{{Severity: data.NoticeSeverityInfo,
		Text: fmt.Sprintf("%s: %d lost, %d degraded, %d untouched, %d cannot tell", w.Cut, w.Totals["lost"], w.Totals["degraded"], w.Totals["untouched"], w.Totals["unattributed"])}}})
	return data.Frames{f}, nil
}

func (in *Instance) incidents(ctx context.Context) (data.Frames, error) {
	var list []struct {
		GroupKey, Receiver string
		GroupLabels        map[string]string
		Alerts             []struct {
			Labels   map[string]string
			StartsAt time.Time
		}
		Ack *struct{ By, Comment string }
	}
	if err := in.get(ctx, "/api/v1/incidents", true, &list); err != nil {
		return nil, err
	}
	var key, receiver, group, ackBy []string
	var alerts []int64
	var since []time.Time
	for _, l := range list {
		first := time.Time{}
		for _, a := range l.Alerts {
			if first.IsZero() || a.StartsAt.Before(first) {
				first = a.StartsAt
			}
		}
		var gl []string
		for k, v := range l.GroupLabels {
			gl = append(gl, k+"="+v)
		}
		slices.Sort(gl)
		by := ""
		if l.Ack != nil {
			by = l.Ack.By
		}
		key, receiver, group, ackBy = append(key, l.GroupKey), append(receiver, l.Receiver), append(group, strings.Join(gl, ", ")), append(ackBy, by)
		alerts, since = append(alerts, int64(len(l.Alerts))), append(since, first)
	}
	f := data.NewFrame("incidents", data.NewField("since", nil, since), data.NewField("group", nil, group), data.NewField("alerts", nil, alerts),
		data.NewField("receiver", nil, receiver), data.NewField("acknowledged_by", nil, ackBy), data.NewField("group_key", nil, key))
	f.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeTable})
	return data.Frames{f}, nil
}

func (in *Instance) drift(ctx context.Context, q Query) (data.Frames, error) {
	var list []struct {
		Target, Sector, Layer, Before, After, Evidence string
		FirstSeen                                      time.Time `json:"first_seen"`
		ToState                                        string    `json:"to_state"`
	}
	if err := in.get(ctx, "/api/v1/drift?target="+url.QueryEscape(q.Target), true, &list); err != nil {
		return nil, err
	}
	var at []time.Time
	var target, sector, layer, before, after, state []string
	for _, d := range list {
		at, target, sector, layer = append(at, d.FirstSeen), append(target, d.Target), append(sector, d.Sector), append(layer, d.Layer)
		before, after, state = append(before, d.Before), append(after, d.After), append(state, d.ToState)
	}
	f := data.NewFrame("drift", data.NewField("first_seen", nil, at), data.NewField("target", nil, target), data.NewField("sector", nil, sector),
		data.NewField("layer", nil, layer), data.NewField("before", nil, before), data.NewField("after", nil, after), data.NewField("state", nil, state))
	f.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeTable})
	return data.Frames{f}, nil
}

func (in *Instance) drills(ctx context.Context) (data.Frames, error) {
	var list []struct {
		ID, Scenario  string
		StartedBy     string `json:"started_by"`
		EndedBy       string `json:"ended_by"`
		Started, Ends time.Time
		Ended         time.Time
	}
	if err := in.get(ctx, "/api/v1/drills", true, &list); err != nil {
		return nil, err
	}
	var id, scenario, by, state []string
	var started []time.Time
	for _, d := range list {
		st := "running until " + d.Ends.UTC().Format(time.RFC3339)
		if !d.Ended.IsZero() {
			st = "ended by " + d.EndedBy
		}
		id, scenario, by, state, started = append(id, d.ID), append(scenario, d.Scenario), append(by, d.StartedBy), append(state, st), append(started, d.Started)
	}
	f := data.NewFrame("drills", data.NewField("started", nil, started), data.NewField("drill", nil, id), data.NewField("scenario", nil, scenario),
		data.NewField("started_by", nil, by), data.NewField("state", nil, state))
	f.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeTable})
	return data.Frames{f}, nil
}

// pickList is the distinct, sorted values of one kind in the graphs.
func pickList(deps []service, kind string) []string {
	set := map[string]bool{}
	for _, s := range deps {
		switch kind {
		case "targets":
			set[s.Target] = true
		case "sectors":
			set[s.Sector] = true
		}
		for _, l := range s.Layers {
			for _, p := range l.Providers {
				switch kind {
				case "providers":
					if !strings.HasPrefix(p.ID, "name:") {
						set[p.ID] = true
					}
				case "countries":
					set[p.Jurisdiction] = true
				}
			}
		}
	}
	delete(set, "")
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
