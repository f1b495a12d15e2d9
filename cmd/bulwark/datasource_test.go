package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"

	ds "github.com/bulwarkhq/bulwark/dashboards/plugin/datasource"
	"github.com/bulwarkhq/bulwark/internal/testenv/influxd"
)

// TestDatasourcePluginOverGRPC talks to the Bulwark data source plugin
// the way Grafana does, over real gRPC (the SDK's datasourcetest), with
// the plugin reading a live collector of the demo world with a viewer's
// token: the health
// check, the node graph and the what-if against golden files
// (BULWARK_UPDATE_GOLDEN=1 rewrites them), incidents, drift, drills, the
// editor's pick lists, and a refused token.
func TestDatasourcePluginOverGRPC(t *testing.T) {
	t.Parallel()
	dw := startDrillWorld(t)
	// The golden frames need complete graphs: every service's DNS layer,
	// and tax-office's five layers.
	eventually(t, 60*time.Second, "the graphs are complete", func() bool {
		var deps []struct {
			Target string
			Layers []struct{ Layer string }
		}
		if callAPI(t.Context(), "GET", dw.base, "/api/v1/dependencies", dw.opFile, nil, &deps) != nil || len(deps) != 24 {
			return false
		}
		for _, d := range deps {
			if len(d.Layers) == 0 || (d.Target == "tax-office" && len(d.Layers) < 5) {
				return false
			}
		}
		return true
	})
	time.Sleep(4 * time.Second) // one more evaluation: nothing half-seen
	tp, err := datasourcetest.Manage(ds.New, datasourcetest.ManageOpts{Address: influxd.FreeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown()
	settings := func(token string) backend.PluginContext {
		return backend.PluginContext{DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{ID: 1, UID: "bulwark", Name: "Bulwark",
			URL: dw.base, DecryptedSecureJSONData: map[string]string{"token": token}}}
	}
	ctx := t.Context()
	h, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: settings("viewer-token")})
	if err != nil || h.Status != backend.HealthStatusOk || !strings.Contains(h.Message, "24 services") {
		t.Fatalf("health: %v %+v", err, h)
	}
	// Another instance (another data source id) with a wrong token.
	bad := settings("not-a-token")
	bad.DataSourceInstanceSettings.ID, bad.DataSourceInstanceSettings.UID = 2, "wrong"
	if h, err := tp.Client.CheckHealth(ctx, &backend.CheckHealthRequest{PluginContext: bad}); err != nil || h.Status != backend.HealthStatusError || !strings.Contains(h.Message, "refused the token") {
		t.Errorf("health with a wrong token: %v %+v", err, h)
	}
	q := func(refID, kind, js string) backend.DataQuery {
		return backend.DataQuery{RefID: refID, QueryType: kind, JSON: json.RawMessage(js),
			TimeRange: backend.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now()}}
	}
	// The graph the plugin draws is attributed apart from the layers seen,
	// and a busy machine lags one agent's observations behind the other's
	// (a deps probe cut short drops layers until the next): wait for an
	// answer with tax-office's four providers and seven edges and the
	// what-if with every service's name servers, and check that answer
	// against the golden frames, or fail.
	var golden *backend.QueryDataResponse
	eventually(t, 90*time.Second, "the golden graph and what-if", func() bool {
		r, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: settings("viewer-token"),
			Queries: []backend.DataQuery{q("graph", ds.TypeGraph, `{"target": "tax-office"}`), q("whatif", ds.TypeWhatIf, `{"providers": ["Cathay DNS"]}`)}})
		if err != nil {
			return false
		}
		g, w := r.Responses["graph"], r.Responses["whatif"]
		if g.Error == nil && len(g.Frames) == 2 && g.Frames[0].Rows() == 4 && g.Frames[1].Rows() == 7 &&
			w.Error == nil && len(w.Frames) == 1 && w.Frames[0].Meta != nil && len(w.Frames[0].Meta.Notices) == 1 &&
			strings.HasPrefix(w.Frames[0].Meta.Notices[0].Text, "provider cathaydns: 5 lost") {
			golden = r
			return true
		}
		return false
	})
	resp, err := tp.Client.QueryData(ctx, &backend.QueryDataRequest{PluginContext: settings("viewer-token"), Queries: []backend.DataQuery{
		q("incidents", ds.TypeIncidents, `{}`), q("drift", ds.TypeDrift, `{}`), q("drills", ds.TypeDrills, `{}`),
		q("bad", "tea", `{}`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	update := os.Getenv("BULWARK_UPDATE_GOLDEN") == "1"
	for _, name := range []string{"graph", "whatif"} {
		dr := golden.Responses[name]
		if dr.Error != nil {
			t.Fatalf("%s: %v", name, dr.Error)
		}
		experimental.CheckGoldenJSONResponse(t, "testdata/plugin", name, &dr, update)
	}
	for _, name := range []string{"incidents", "drift", "drills"} {
		if dr := resp.Responses[name]; dr.Error != nil || len(dr.Frames) != 1 {
			t.Errorf("%s: %v %d frames", name, dr.Error, len(dr.Frames))
		}
	}
	if dr := resp.Responses["bad"]; dr.Error == nil || !strings.Contains(dr.Error.Error(), "unknown query type") {
		t.Errorf("an unknown query type: %v", dr.Error)
	}
	var got []string
	err = tp.Client.CallResource(ctx, &backend.CallResourceRequest{PluginContext: settings("viewer-token"), Path: "providers", Method: "GET"},
		backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
			if r.Status != 200 {
				t.Errorf("providers: %d %s", r.Status, r.Body)
			}
			return json.Unmarshal(r.Body, &got)
		}))
	if err != nil || !strings.Contains(strings.Join(got, ","), "cathaydns") || !strings.Contains(strings.Join(got, ","), "skyline") {
		t.Errorf("providers pick list: %v %v", err, got)
	}
}
