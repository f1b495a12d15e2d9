package ingest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sync/semaphore"
)

// gated is a body that sends all but its last byte, then waits for open.
type gated struct {
	r       io.Reader
	open    <-chan struct{}
	reached *atomic.Int32
	last    bool
}

func (g *gated) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err == io.EOF && !g.last {
		g.reached.Add(1)
		<-g.open
		g.last = true
		p[0] = 0
		return 1, nil
	}
	return n, err
}

// Issue 19 (4): 800 concurrent 8 MiB bodies with one agent's token took
// the collector to 6 GiB (200: 1.4 GB): every body was read before the
// in-flight budget was taken. Now the agent has at most 4 requests
// handled at once, the rest answered 429 with Retry-After before their
// bodies are read, and the heap stays under 200 MiB while 200 bodies are
// held open.
func TestConcurrentBodies(t *testing.T) {
	f := newFixture(t, Limits{})
	const n, size = 200, 8 << 20
	data := bytes.Repeat([]byte{0xff}, size-1) // read whole, then not snappy
	open := make(chan struct{})
	var reached atomic.Int32
	tr := &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	codes := make([]int, n)
	retry := make([]string, n)
	var answered atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL, &gated{r: bytes.NewReader(data), open: open, reached: &reached})
			req.ContentLength = size
			req.Header.Set("Content-Encoding", "snappy")
			req.Header.Set("Authorization", "Bearer home-token")
			resp, err := client.Do(req)
			answered.Add(1)
			if err != nil {
				// The collector answered 429 and closed the connection
				// while the body was being sent: the client may see the
				// close before the answer.
				codes[i] = -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
		})
	}
	// Hold every body open until the excess is answered (or, without the
	// bounds, until every body is in; bounded in time either way).
	deadline := time.Now().Add(20 * time.Second)
	for answered.Load() < n-4 && int(reached.Load()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(open)
	wg.Wait()
	close(stop)
	<-sampled
	grew := int64(peak.Load()) - int64(base)
	busy, closed := 0, 0
	for i := range n {
		switch codes[i] {
		case http.StatusTooManyRequests:
			busy++
			if retry[i] == "" {
				t.Errorf("request %d: 429 without Retry-After", i)
			}
		case -1:
			closed++
		}
	}
	h := f.srv.Config.Handler.(*Handler)
	refused := testutil.ToFloat64(h.metrics.rejected.WithLabelValues("agent_concurrency"))
	t.Logf("%d concurrent %d MiB bodies from one agent: %v refused unread (%d seen as 429, %d as a closed connection), heap grew %d MiB at its peak",
		n, size>>20, refused, busy, closed, grew>>20)
	if refused < n-4 || busy+closed < n-4 || busy == 0 {
		t.Errorf("%v requests refused unread, %d answered 429, %d closed: want at least %d refused (4 handled at once)", refused, busy, closed, n-4)
	}
	if grew > 200<<20 {
		t.Errorf("heap grew %d MiB with %d concurrent %d MiB bodies, over the 200 MiB bound", grew>>20, n, size>>20)
	}
}

// The in-flight budget is taken before a body is read: the declared
// length at once, and, without one, each growth of the buffer; a body that
// cannot get room is not read further.
func TestReadBodyTakesBudgetFirst(t *testing.T) {
	sem := semaphore.NewWeighted(1 << 20)
	bud := budget{sem: sem}
	check := &checkReader{r: bytes.NewReader(make([]byte, 300<<10)), bud: &bud}
	b, err := readBody(context.Background(), check, 300<<10, nil, 8<<20, &bud)
	if err != nil || len(b) != 300<<10 || check.over {
		t.Fatalf("declared: %d bytes, %v, read beyond the budget: %v", len(b), err, check.over)
	}
	bud.release()
	// Unknown length: the budget grows with the buffer, and stops it.
	check = &checkReader{r: bytes.NewReader(make([]byte, 4<<20)), bud: &bud}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	b, err = readBody(ctx, check, -1, nil, 8<<20, &bud)
	if err != errBusy || check.over || len(b) > 1<<20 {
		t.Fatalf("unknown length over the budget: %d bytes read, %v, beyond the budget: %v", len(b), err, check.over)
	}
	bud.release()
	if !sem.TryAcquire(1 << 20) {
		t.Fatal("budget not given back")
	}
	sem.Release(1 << 20)
	b, err = readBody(context.Background(), bytes.NewReader(make([]byte, 200)), -1, nil, 100, &bud)
	if err != errTooLarge {
		t.Fatalf("over the limit: %d bytes, %v", len(b), err)
	}
	bud.release()
}

type checkReader struct {
	r    io.Reader
	bud  *budget
	read int64
	over bool
}

func (c *checkReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read > c.bud.held {
		c.over = true
	}
	return n, err
}
