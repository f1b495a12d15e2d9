package collector

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// heapMiB is the live heap, after a collection.
func heapMiB() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse >> 20
}

// Issue 8: 2,000 slow-body or idle keep-alive connections from an
// unauthenticated client were all held, forever. Now the collector keeps
// answering /-/ready while they are open, stays within its memory bound,
// and cuts slow bodies off at their route's deadline.
func TestSlowConnections(t *testing.T) {
	app, _ := startRoles(t, "web: {idle_timeout: 2s, enable_pprof: true}\n")
	addr := app.Addr()
	const n = 2000
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if i%2 == 0 {
			// A slow body, with an agent's token so the body is read.
			fmt.Fprintf(c, "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer agent-token\r\nContent-Encoding: snappy\r\nContent-Length: 1000000\r\n\r\nx")
		} else {
			// A keep-alive connection after one request, then idle.
			fmt.Fprintf(c, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
		}
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/-/ready")
	if err != nil {
		t.Fatalf("/-/ready with %d slow connections open: %v", n, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/-/ready: %d", resp.StatusCode)
	}
	heap := heapMiB()
	t.Logf("/-/ready answered in %s with %d slow connections open; heap %d MiB", time.Since(start).Round(time.Millisecond), n, heap)
	if heap > 300 {
		t.Errorf("heap %d MiB with %d slow connections, over the 300 MiB bound", heap, n)
	}
	// The idle keep-alive connections are closed after idle_timeout.
	idle := conns[1]
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(idle); err != nil {
		t.Fatalf("idle connection was not closed by the server: %v", err)
	}
}

// Issue 8: three concurrent count_over_time(vector(1)[600d:1s]) with no
// token took the collector to 10.8 GB. Now there is no anonymous reading,
// and a viewer's bomb stops at the sample limit with Prometheus's JSON error.
func TestQueryBombs(t *testing.T) {
	app, _ := startRoles(t, "query: {max_samples: 1000000}\n")
	span := "600d" // 51.8 million steps
	if raceEnabled {
		// Under the race detector the engine takes a minute of CPU to step
		// through 600d, past the route's 60 s write deadline; 60d is still
		// five times the sample limit.
		span = "60d"
	}
	q := "/api/v1/query?query=" + url.QueryEscape("count_over_time(vector(1)["+span+":1s])")
	if code, _ := get(t, app, q, ""); code != http.StatusUnauthorized {
		t.Fatalf("anonymous bomb: %d", code)
	}
	var wg sync.WaitGroup
	codes := make([]int, 3)
	bodies := make([]string, 3)
	for i := range 3 {
		wg.Go(func() { codes[i], bodies[i] = get(t, app, q, "viewer-token") })
	}
	wg.Wait()
	for i := range 3 {
		if codes[i] != http.StatusUnprocessableEntity || !strings.Contains(bodies[i], `"errorType":"execution"`) ||
			!strings.Contains(bodies[i], "too many samples") {
			t.Errorf("bomb %d: %d %s", i, codes[i], bodies[i])
		}
	}
	if heap := heapMiB(); heap > 300 {
		t.Errorf("heap %d MiB after the bombs", heap)
	}
	// Unknown API paths answer in the same JSON shape.
	if code, body := get(t, app, "/api/v1/nope", ""); code != 404 || !strings.Contains(body, `"errorType":"not_found"`) {
		t.Errorf("unknown path: %d %s", code, body)
	}
}

func get(t *testing.T, app *App, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+app.Addr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Issue 9: a target no agent has reported is shown as no-data, not left
// out of the console: counted on the overview, listed on the services page.
func TestConsoleShowsNoData(t *testing.T) {
	app, _ := startRoles(t, "targets:\n  - {id: never-probed, sector: health, url: 'https://never-probed.example/'}\n")
	code, page := get(t, app, "/", "viewer-token")
	if code != 200 || !strings.Contains(page, `<span class="state no-data">1 no data</span>`) || !strings.Contains(page, "Production: 1 service ·") {
		t.Fatalf("overview: %d\n%.3000s", code, page[max(strings.Index(page, "<body"), 0):])
	}
	code, page = get(t, app, "/services", "viewer-token")
	if code != 200 || !strings.Contains(page, `data-target="never-probed" data-state="no-data"`) {
		t.Fatalf("services: %d\n%.3000s", code, page[max(strings.Index(page, "<body"), 0):])
	}
}
