package datasource

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/bulwarkhq/bulwark/internal/attrib"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

// deps10k is the collector's graph view (depgraph.Compact, as
// /api/v1/dependencies?view=graph answers) of 10,000 services, each with
// hosting, DNS (two name servers of each of two providers), CA and mail
// layers among 200 providers.
func deps10k(b *testing.B) []byte {
	var svcs []*depgraph.Service
	for i := range 10000 {
		it := func(p, ns int) depgraph.Item {
			return depgraph.Item{Name: fmt.Sprintf("ns%d.provider-%d.example", ns, p), Addrs: []string{fmt.Sprintf("10.%d.%d.%d", p/250, p%250, ns+1)}, Foreign: p%3 == 0,
				Attr: attrib.Attribution{Provider: fmt.Sprintf("provider-%d", p), ProviderName: fmt.Sprintf("Provider %d", p), Jurisdiction: []string{"DE", "US", "FR"}[p%3], Rule: "catalog", Evidence: "x"}}
		}
		p := i % 200
		svcs = append(svcs, &depgraph.Service{Target: fmt.Sprintf("service-%05d", i), Sector: []string{"energy", "finance", "government"}[i%3],
			Score: float64(i%100) / 100, WorstLayer: "dns", WorstState: "foreign-multi", Layers: []*depgraph.Layer{
				{Name: "hosting", State: "domestic", Items: []depgraph.Item{it(p, 0)}},
				{Name: "dns", State: "foreign-multi", Items: []depgraph.Item{it((p+1)%200, 0), it((p+1)%200, 1), it((p+2)%200, 0), it((p+2)%200, 1)}},
				{Name: "ca", State: "domestic", Items: []depgraph.Item{it((p+3)%200, 0)}},
				{Name: "mail", State: "domestic", Items: []depgraph.Item{it((p+4)%200, 0)}}}})
	}
	body, err := json.Marshal(map[string]any{"status": "success", "data": depgraph.Compact(svcs)})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("graph view of 10,000 services: %d bytes", len(body))
	return body
}

// BenchmarkGraph10k measures the graph query over 10,000 services: the
// answer read over HTTP from a stand-in serving the collector's bytes,
// decoded, and turned into node-graph frames (10,200 nodes, 50,000
// edges: one per provider a layer depends on). The baseline, in the same run, only fetches and decodes.
func BenchmarkGraph10k(b *testing.B) {
	body := deps10k(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
	defer srv.Close()
	inst, err := New(context.Background(), backend.DataSourceInstanceSettings{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	in := inst.(*Instance)
	b.Run("graph-query", func(b *testing.B) {
		req := &backend.QueryDataRequest{Queries: []backend.DataQuery{{RefID: "A", QueryType: TypeGraph, JSON: json.RawMessage(`{"limit": 10000}`),
			TimeRange: backend.TimeRange{From: time.Now().Add(-time.Hour), To: time.Now()}}}}
		for b.Loop() {
			resp, err := in.QueryData(context.Background(), req)
			if err != nil || resp.Responses["A"].Error != nil {
				b.Fatal(err, resp.Responses["A"].Error)
			}
			if n, _ := resp.Responses["A"].Frames[0].RowLen(); n != 10200 {
				b.Fatalf("%d nodes", n)
			}
		}
	})
	b.Run("fetch-decode-baseline", func(b *testing.B) {
		for b.Loop() {
			var deps []service
			if err := in.get(context.Background(), graphPath, true, &deps); err != nil || len(deps) != 10000 {
				b.Fatal(err)
			}
		}
	})
}
