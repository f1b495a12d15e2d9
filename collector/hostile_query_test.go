package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/bulwarkhq/bulwark/collector/query"
)

// queryHostile is the worst input of each route the query API serves:
// the largest and most concurrent of its kind. A route the API registers
// without an entry here fails TestQueryRoutesHostile.
func queryHostile(now time.Time) map[string][]url.Values {
	nested := "fat"
	for range 38 { // issue 19: 1.8 KB, 2^64 times the labels
		nested = `label_join(` + nested + `,"a","","a","a","instance","a","a")`
	}
	largest := `label_join(fat,"a","","big","big","big")` // just under max_label_bytes
	deepest := strings.Repeat("(", 120) + "fat" + strings.Repeat(")", 120)
	long := strings.Repeat("fat+", 4000) + "fat" // 16 KiB, parsed in quadratic time
	rng := func(q string) url.Values {
		return url.Values{"query": {q}, "start": {fmt.Sprint(now.Add(-time.Hour).Unix())},
			"end": {fmt.Sprint(now.Add(time.Minute).Unix())}, "step": {"15"}}
	}
	all := url.Values{"match[]": {`{__name__=~".+"}`}}
	return map[string][]url.Values{
		"/api/v1/query":               {{"query": {nested}}, {"query": {largest}}, {"query": {long}}},
		"/api/v1/query_range":         {rng(nested), rng(largest), rng(deepest)},
		"/api/v1/series":              {all},
		"/api/v1/labels":              {all},
		"/api/v1/label/{name}/values": {all},
		"/api/v1/query_exemplars":     {{"query": {deepest}}, {"query": {long}}},
		"/api/v1/format_query":        {{"query": {deepest}}, {"query": {long}}},
		"/api/v1/status/buildinfo":    {{}},
		"/api/v1/metadata":            {{}},
	}
}

type patterns []string

func (p *patterns) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*p = append(*p, pattern)
}

// Issue 19: for every route of the query API, its hostile inputs sent four
// times as many at once as query.max_concurrent, and a body just over
// query.max_request_bytes, keep the heap (garbage included) within
// max_concurrent queries of six times max_label_bytes (docs/SECURITY.md).
func TestQueryRoutesHostile(t *testing.T) {
	const concurrent, limit = 4, 8 << 20
	app, _ := startRoles(t, fmt.Sprintf("query: {max_concurrent: %d, max_label_bytes: %d}\n", concurrent, limit))
	now := time.Now()
	ap := app.Store().Appender(context.Background())
	for i := range 1000 { // 2 MB of labels
		l := labels.FromStrings("__name__", "fat", "big", fmt.Sprintf("%06d", i)+strings.Repeat("x", 1994),
			"instance", fmt.Sprintf("host-%04d.example:9100", i))
		if _, err := ap.Append(0, l, now.UnixMilli(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := ap.Commit(); err != nil {
		t.Fatal(err)
	}
	api, err := query.New(query.Options{Queryable: app.Store()})
	if err != nil {
		t.Fatal(err)
	}
	var routes patterns
	api.Register(&routes)
	hostile := queryHostile(now)
	for _, route := range routes {
		if _, ok := routeTable[route]; !ok {
			t.Errorf("%s: not in the route table", route)
		}
		inputs, ok := hostile[route]
		if !ok {
			t.Errorf("%s: the query API serves it but queryHostile has no input for it", route)
			continue
		}
		path := "http://" + app.Addr() + strings.ReplaceAll(route, "{name}", "big")
		if code := postAs(t, path, url.Values{"pad": {strings.Repeat("x", 256<<10)}}); code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: a body over max_request_bytes: %d", route, code)
		}
		runtime.GC()
		base := heapObjectsMiB()
		stop, start := peakHeapMiB(), time.Now()
		var wg sync.WaitGroup
		for i := range 4 * concurrent * len(inputs) {
			wg.Go(func() { postAs(t, path, inputs[i%len(inputs)]) })
		}
		wg.Wait()
		peak, bound := stop(), base+6*concurrent*limit>>20+32
		t.Logf("%s: heap %d MiB before, peak %d MiB, bound %d MiB (%s)", route, base, peak, bound, time.Since(start).Round(time.Millisecond))
		if peak > bound {
			t.Errorf("%s: peak heap %d MiB, over its bound of %d MiB", route, peak, bound)
		}
	}
}

// postAs posts form as the viewer and returns the status, discarding the
// answer (the client's memory is not the collector's).
func postAs(t *testing.T, u string, form url.Values) int {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer viewer-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func heapObjectsMiB() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() >> 20
}

// peakHeapMiB samples the heap (live and not yet collected) until stop.
func peakHeapMiB() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			if v := heapObjectsMiB(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}
