package state

import (
	"context"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/depgraph"
)

func TestSaveLoadHistory(t *testing.T) { eachDriver(t, testSaveLoadHistory) }

func testSaveLoadHistory(t *testing.T, o Options) {
	db := mustOpen(t, o)
	t0 := time.UnixMilli(1_790_000_000_000).UTC()
	v1 := &depgraph.Service{Target: "water-utility", Sector: "energy", Layers: []*depgraph.Layer{{Name: "dns", State: depgraph.Domestic}}}
	if err := db.Save(map[string]*depgraph.Service{"water-utility": v1}, nil, t0); err != nil {
		t.Fatal(err)
	}
	// Unchanged graphs are not written again.
	if err := db.Save(map[string]*depgraph.Service{"water-utility": v1}, nil, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	v2 := &depgraph.Service{Target: "water-utility", Sector: "energy", Score: 0.33, Layers: []*depgraph.Layer{{Name: "dns", State: depgraph.ForeignCritical}}}
	d := depgraph.Drift{Target: "water-utility", Sector: "energy", Layer: "dns", Agent: "home-1", Vantage: "home",
		Before: "arcanet@XA", After: "cathaydns@XC", FromState: depgraph.Domestic, ToState: depgraph.ForeignCritical, FirstSeen: t0.Add(2 * time.Minute), Evidence: "moved"}
	if err := db.Save(map[string]*depgraph.Service{"water-utility": v2}, []depgraph.Drift{d}, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = mustOpen(t, o)
	graphs, events, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	if g := graphs["water-utility"]; g == nil || g.Score != 0.33 || g.Layers[0].State != depgraph.ForeignCritical {
		t.Fatalf("graph after reopen: %+v", g)
	}
	if len(events) != 1 || events[0] != d {
		t.Fatalf("drift after reopen: %+v", events)
	}
	h, err := db.History(context.Background(), "water-utility")
	if err != nil || len(h) != 2 || !h[0].Since.Equal(t0) || h[1].Graph.Score != 0.33 {
		t.Fatalf("history: %v %+v", err, h)
	}
}
