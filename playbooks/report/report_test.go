package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/collector/store"
	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/internal/cutset"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
	"github.com/bulwarkhq/bulwark/playbooks/drill"
)

var start = time.Now().Add(-20 * time.Minute).Truncate(time.Second)

// world writes a drill's probe results into a real TSDB: for each target
// and agent, one result every 10 s over ten minutes from the start, up
// or down as state says (seconds after the start -> up).
func world(t testing.TB, services int, state func(target string, agent string, sec int) bool) *store.TSDB {
	t.Helper()
	st, err := store.OpenTSDB(t.TempDir(), store.Options{Retention: 24 * time.Hour, OutOfOrderWindow: time.Hour}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := st.Appender(context.Background())
	for i := range services {
		tg := fmt.Sprintf("svc-%05d", i)
		for _, ag := range []string{"home-1", "abroad-1"} {
			ls := labels.FromStrings("__name__", "probe_success", "agent", ag, "check", "http", "drill", "d1", "target", tg)
			for sec := 0; sec < 600; sec += 10 {
				v := 0.0
				if state(tg, ag, sec) {
					v = 1
				}
				if _, err := app.Append(0, ls, start.Add(time.Duration(sec)*time.Second+time.Duration(i%7)*time.Millisecond).UnixMilli(), v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return st
}

func testDrill(services int, predicted func(i int) string) *drill.Drill {
	w := &depgraph.WhatIf{Totals: map[string]int{}}
	for i := range services {
		w.Services = append(w.Services, depgraph.Impact{Target: fmt.Sprintf("svc-%05d", i), Sector: "energy", Criticality: 1 + i%3, Outcome: predicted(i)})
	}
	return &drill.Drill{ID: "d1", Scenario: "country XC", Started: start, Ends: start.Add(10 * time.Minute), Ended: start.Add(10 * time.Minute),
		EndedBy: "schedule", StartedBy: "planner", Prediction: w, Set: &cutset.Cut{Prefixes: nil},
		Agents: map[string]time.Time{"home-1": start.Add(800 * time.Millisecond), "abroad-1": start.Add(time.Second)}}
}

// TestMeasure: svc-0 lost and back after 5 min (RTO 10 min: met), svc-1
// lost to the end (RTO 2 min: missed, criticality 2), svc-2 down from
// one vantage only (degraded), svc-3 untouched; the what-if predicted
// svc-3 lost: a difference, explained.
func TestMeasure(t *testing.T) {
	st := world(t, 4, func(tg, ag string, sec int) bool {
		switch tg {
		case "svc-00000":
			return sec < 20 || sec >= 300
		case "svc-00001":
			return sec < 20
		case "svc-00002":
			return ag == "home-1" || sec < 20
		}
		return true
	})
	pred := []string{depgraph.Lost, depgraph.Lost, depgraph.Degraded, depgraph.Lost}
	d := testDrill(4, func(i int) string { return pred[i] })
	targets := []Target{{ID: "svc-00000", RTO: 10 * time.Minute, Criticality: 1}, {ID: "svc-00001", RTO: 2 * time.Minute, Criticality: 2},
		{ID: "svc-00002", RTO: time.Hour}, {ID: "svc-00003"}}
	r, err := Build(t.Context(), Input{Drill: d, Targets: targets, Series: st, Now: start.Add(15 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Service{}
	for _, s := range r.Services {
		got[s.Target] = s
	}
	s0, s1, s2, s3 := got["svc-00000"], got["svc-00001"], got["svc-00002"], got["svc-00003"]
	if s0.Observed != Lost || s0.FirstFailure == nil || *s0.FirstFailure < 19 || *s0.FirstFailure > 21 || s0.Recovered == nil || *s0.Recovered < 299 || *s0.Recovered > 301 || s0.RTOResult != RTOMet || s0.Agents != 2 {
		t.Errorf("svc-0: %+v", s0)
	}
	if s1.Observed != Lost || s1.Recovered != nil || s1.RTOResult != RTOMissed {
		t.Errorf("svc-1: %+v", s1)
	}
	if s2.Observed != Degraded || s2.Difference != "" || s2.RTOResult != RTONotNeeded {
		t.Errorf("svc-2: %+v", s2)
	}
	if s3.Observed != Unaffected || !strings.Contains(s3.Difference, "predicted lost") {
		t.Errorf("svc-3: %+v", s3)
	}
	if r.Verdict != PassWithConditions || !strings.Contains(strings.Join(r.Conditions, "\n"), "svc-00001 missed its RTO of 2m0s") {
		t.Errorf("verdict %s: %v", r.Verdict, r.Conditions)
	}
	if r.Totals["observed"][Lost] != 2 || r.Totals["predicted"][Lost] != 3 {
		t.Errorf("totals: %v", r.Totals)
	}
	// A criticality-1 service missing its RTO fails the drill.
	targets[1].Criticality = 1
	d.Prediction.Services[1].Criticality = 1
	if r, _ = Build(t.Context(), Input{Drill: d, Targets: targets, Series: st}); r.Verdict != Fail {
		t.Errorf("verdict %s with a critical service past its RTO: %v", r.Verdict, r.Conditions)
	}
}

// TestSignedReports: each format verifies, and an altered one does not;
// the JSON names the part altered.
func TestSignedReports(t *testing.T) {
	st := world(t, 3, func(tg, _ string, sec int) bool { return tg != "svc-00001" || sec < 30 })
	r, err := Build(t.Context(), Input{Drill: testDrill(3, func(int) string { return depgraph.Lost }), Series: st})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	x, err := Signed(r, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(x, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	back, err := FromSigned(x)
	if err != nil || len(back.Services) != 3 || back.Verdict != r.Verdict {
		t.Fatalf("FromSigned: %v %+v", err, back)
	}
	var seq int64
	for i, e := range x.Entries {
		if e.Action == "service svc-00001" {
			x.Entries[i].Detail, seq = bytes.Replace(e.Detail, []byte(`"lost"`), []byte(`"unaffected"`), 1), e.Seq
		}
	}
	if err := audit.Verify(x, nil); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("entry %d was altered (service svc-00001", seq)) {
		t.Errorf("tampered service: %v", err)
	}
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range [][]byte{page, Markdown(r)} {
		signed := SignText(doc, key)
		if err := VerifyText(signed, key.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
		if err := VerifyText(bytes.Replace(signed, []byte("svc-00001"), []byte("svc-00009"), 1), nil); err == nil || !strings.Contains(err.Error(), "altered") {
			t.Errorf("tampered text report: %v", err)
		}
		_, other, _ := ed25519.GenerateKey(nil)
		if err := VerifyText(signed, other.Public().(ed25519.PublicKey)); err == nil {
			t.Error("a report signed by another key verifies against the pinned one")
		}
		if err := VerifyText(doc, nil); err != ErrNoTrailer {
			t.Errorf("unsigned: %v", err)
		}
	}
}

// TestHTMLInChromium opens the HTML report in headless Chromium with no
// network: its charts render (SVG rectangles with their sizes), nothing
// is requested from anywhere but the file itself, and a screenshot is
// kept in the test's artifact directory (go test -artifacts).
func TestHTMLInChromium(t *testing.T) {
	chromium := testbin.Need(t, "chromium", "chromium")
	st := world(t, 30, func(tg, ag string, sec int) bool {
		var i int
		fmt.Sscanf(tg, "svc-%d", &i)
		return i%3 != 0 || sec < 60 || (i%2 == 0 && sec > 200+i*5) || (ag == "home-1" && i%5 == 0)
	})
	r, err := Build(t.Context(), Input{Drill: testDrill(30, func(i int) string {
		return []string{depgraph.Lost, depgraph.Untouched, depgraph.Degraded}[i%3]
	}), Targets: []Target{{ID: "svc-00000", RTO: 5 * time.Minute}, {ID: "svc-00006", RTO: 2 * time.Minute}}, Series: st})
	if err != nil {
		t.Fatal(err)
	}
	page, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, SignText(page, key), 0o600); err != nil {
		t.Fatal(err)
	}
	actx, cancel := chromedp.NewExecAllocator(t.Context(), chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var requests []string
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitVisible(chromedp.CSS("#chart-timeline svg"))); err != nil {
		t.Fatal(err)
	}
	// The charts have drawn something: bars with a width, one row per affected service.
	n, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`[...document.querySelectorAll("svg rect")].filter(r => r.getBBox().width > 0).length`))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelectorAll("#chart-timeline g[data-target]").length`))
	if err != nil {
		t.Fatal(err)
	}
	verdict, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#verdict")))
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 || rows != float64(r.Totals["observed"][Lost]+r.Totals["observed"][Degraded]) || verdict != r.Verdict {
		t.Errorf("rendered: %v drawn bars, %v timeline rows, verdict %q; report: %v, %s", n, rows, verdict, r.Totals, r.Verdict)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "drill-report.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if u != "file://"+file {
			t.Errorf("the report requested %s", u)
		}
	}
	if len(requests) == 0 {
		t.Error("no request seen at all: the network listener saw nothing")
	}
}

// BenchmarkReport10k measures a report over a drill of 10,000 services
// (two agents, a result every 10 s for ten minutes: 1.2 million samples),
// a third of them lost: reading the series, measuring, and rendering it
// as signed JSON, HTML and Markdown.
func BenchmarkReport10k(b *testing.B) {
	const n = 10000
	st := world(b, n, func(tg, _ string, sec int) bool {
		var i int
		fmt.Sscanf(tg, "svc-%d", &i)
		return i%3 != 0 || sec < 60 || sec > 300
	})
	d := testDrill(n, func(i int) string { return []string{depgraph.Lost, depgraph.Untouched, depgraph.Degraded}[i%3] })
	_, key, _ := ed25519.GenerateKey(nil)
	// The floor: only reading the drill's samples from the TSDB.
	b.Run("read-series", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			q, _ := st.Querier(start.UnixMilli(), d.Ends.UnixMilli())
			set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "drill", "d1"))
			samples := 0
			for set.Next() {
				it := set.At().Iterator(nil)
				for it.Next() != 0 {
					samples++
				}
			}
			q.Close()
			if samples != n*2*60 {
				b.Fatalf("%d samples", samples)
			}
		}
	})
	b.Run("report", func(b *testing.B) { benchReport(b, d, st, key, n) })
}

func benchReport(b *testing.B, d *drill.Drill, st *store.TSDB, key ed25519.PrivateKey, n int) {
	b.ReportAllocs()
	for b.Loop() {
		r, err := Build(context.Background(), Input{Drill: d, Series: st})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Signed(r, key); err != nil {
			b.Fatal(err)
		}
		page, err := HTML(r)
		if err != nil {
			b.Fatal(err)
		}
		SignText(page, key)
		SignText(Markdown(r), key)
		if r.Totals["observed"][Lost] != (n+2)/3 {
			b.Fatalf("lost: %v", r.Totals)
		}
	}
}
