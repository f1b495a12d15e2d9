package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// importServer serves the import route behind an operator's token.
func importServer(t *testing.T) *httptest.Server {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "targets.json"))
	if err != nil {
		t.Fatal(err)
	}
	users := auth.NewUsers()
	if err := users.Add("op-token", false, auth.User{ID: "otto", Role: auth.RoleOperator}); err != nil {
		t.Fatal(err)
	}
	g, err := auth.NewGuard(auth.NewAgents(), users, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Wrap(auth.RoleOperator, ImportHandler(s, nil)))
	t.Cleanup(srv.Close)
	return srv
}

func postImport(t *testing.T, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/?dry_run=true&name=bad.csv", body)
	req.Header.Set("Authorization", "Bearer op-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// badRows is a CSV file of about size bytes whose every data row is
// refused, and the number of those rows.
func badRows(size int) ([]byte, int) {
	var b bytes.Buffer
	b.WriteString("id,name,url,sector,criticality\n")
	n := 0
	for b.Len() < size {
		fmt.Fprintf(&b, "Bad Id %d,Broken,ftp://x%d.arcadia.test/,,9\n", n, n)
		n++
	}
	return b.Bytes(), n
}

// peakHeap samples HeapInuse until stop is closed and returns the largest.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// Issue 19 item 6: four concurrent dry runs of a 60 MiB CSV of bad rows
// ran the collector out of memory (1.87 GB for one, answering 395 MB of
// JSON). The body is parsed as it arrives, the answer lists the first
// DefaultMaxErrors rows with the count of all, and at most
// MaxConcurrentImports run at once: the others are answered 429.
func TestImportHostileBadRowsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("60 MiB bodies")
	}
	// Heap in use over the baseline, garbage included: GOGC=10 keeps the
	// garbage near a tenth of the live heap (the 60 MiB body included).
	const heapBound = 32 << 20
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	body, n := badRows(60 << 20)
	srv := importServer(t)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := make(chan struct{})
	peak := peakHeap(stop)

	var wg sync.WaitGroup
	var refused, busy atomic.Int32
	for range 4 {
		wg.Go(func() {
			resp, b := postImport(t, srv.URL, bytes.NewReader(body))
			if resp == nil {
				return
			}
			switch resp.StatusCode {
			case http.StatusTooManyRequests:
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				busy.Add(1)
			case http.StatusBadRequest:
				var r struct {
					Rows    []RowError
					Refused int
				}
				if err := json.Unmarshal(b, &r); err != nil {
					t.Errorf("answer: %v", err)
				}
				if len(b) > 64<<10 || len(r.Rows) != DefaultMaxErrors || r.Refused != n {
					t.Errorf("answer of %d bytes lists %d rows of %d refused, want %d of %d", len(b), len(r.Rows), r.Refused, DefaultMaxErrors, n)
				}
				if len(r.Rows) > 0 && r.Rows[0].Line != 2 {
					t.Errorf("first refused row on line %d, want 2", r.Rows[0].Line)
				}
				refused.Add(1)
			default:
				t.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	close(stop)
	p := <-peak
	t.Logf("%d bad rows, 4 concurrent dry runs: %d refused, %d busy; peak heap %.1f MiB over baseline",
		n, refused.Load(), busy.Load(), float64(p-min(p, base))/(1<<20))
	if refused.Load() == 0 || refused.Load()+busy.Load() != 4 {
		t.Errorf("%d refused, %d busy: want every request answered, at least one parsed", refused.Load(), busy.Load())
	}
	if p > base+heapBound {
		t.Errorf("peak heap %d MiB over the baseline, bound %d MiB", (p-base)>>20, heapBound>>20)
	}
}

// More imports than MaxConcurrentImports at once: the excess is answered
// 429 with Retry-After at once, without reading its body, and a slot is
// free again when an import ends.
func TestImportConcurrencyCap(t *testing.T) {
	srv := importServer(t)
	type held struct {
		w    *io.PipeWriter
		done chan int
	}
	var hs []held
	for range MaxConcurrentImports {
		pr, pw := io.Pipe()
		h := held{pw, make(chan int, 1)}
		go func() {
			resp, _ := postImport(t, srv.URL, pr)
			if resp != nil {
				h.done <- resp.StatusCode
			} else {
				h.done <- 0
			}
		}()
		t.Cleanup(func() { pw.Close() }) // before the server's Close, on failure too
		// The write returns once the handler reads: it holds a slot.
		if _, err := pw.Write([]byte("id,name,url,sector\n")); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	// The writes above return once the client has sent them, not once the
	// handler holds its slot: until both do, an import may still find one
	// free (it is answered, and frees it). Then the excess is refused.
	var resp *http.Response
	var b []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, b = postImport(t, srv.URL, strings.NewReader("id,name,url,sector\n"))
		if resp == nil || resp.StatusCode != http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("import beyond the cap: %v %s", resp, b)
	}
	for _, h := range hs {
		h.w.Write([]byte("grid,Grid,https://grid.test/,energy\n"))
		h.w.Close()
		if code := <-h.done; code != http.StatusOK {
			t.Errorf("held import: HTTP %d", code)
		}
	}
	resp, b = postImport(t, srv.URL, strings.NewReader("id,name,url,sector\ngrid,Grid,https://grid.test/,energy\n"))
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("import after the others ended: %v %s", resp, b)
	}
}

// Read a byte at a time, a file gives the answer it gives read whole: runes
// split across reads, the line of the first invalid byte, a truncated rune
// at the end.
func TestReadCSVStreamingUTF8(t *testing.T) {
	files := map[string]string{
		"valid":     "id,name,url,sector\nzurich,Zürich — 市,https://z.test/,energy\n",
		"latin1":    "id,name,url,sector\nz,ok,https://z.test/,energy\nb,Pai\xe9ment,https://b.test/,finance\n",
		"truncated": "id,name,url,sector\nz,Z\xe5\xb8",
		"bom":       "\xef\xbb\xbfid,name,url,sector\nz,Z,https://z.test/,energy\n",
	}
	for name, f := range files {
		want, werr := ParseCSV(name, []byte(f), Presets()["bulwark"])
		got, gerr := ReadCSV(name, iotest.OneByteReader(strings.NewReader(f)), Presets()["bulwark"], Limits{})
		if fmt.Sprint(want, werr) != fmt.Sprint(got, gerr) {
			t.Errorf("%s: byte by byte %v %v, whole %v %v", name, got, gerr, want, werr)
		}
	}
	_, err := ParseCSV("latin1", []byte(files["latin1"]), Presets()["bulwark"])
	if err == nil || !strings.HasPrefix(err.Error(), "latin1:3: the file is not UTF-8") {
		t.Errorf("latin1: %v", err)
	}
	if ts, err := ParseCSV("valid", []byte(files["valid"]), Presets()["bulwark"]); err != nil || ts[0].Name != "Zürich — 市" {
		t.Errorf("valid: %v %v", ts, err)
	}
}

// Only the first MaxErrors rows are kept, every one is counted, and a
// quoted cell of any size is cut in the message.
func TestReadCSVErrorsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,url,sector\n")
	b.WriteString("\"" + strings.Repeat("X", 1<<20) + "\",https://x.test/,energy\n")
	for i := range 500 {
		fmt.Fprintf(&b, "bad id %d,https://x.test/,energy\n", i)
	}
	_, err := ReadCSV("f.csv", strings.NewReader(b.String()), Presets()["bulwark"], Limits{MaxErrors: 10})
	var ie *Error
	if !errors.As(err, &ie) || len(ie.Rows) != 10 || ie.Total != 501 {
		t.Fatalf("ReadCSV = %v", err)
	}
	if len(ie.Rows[0].Msg) > maxMsgBytes+3 {
		t.Errorf("message of %d bytes", len(ie.Rows[0].Msg))
	}
	if !strings.HasSuffix(err.Error(), "... and 491 more refused rows") {
		t.Errorf("Error() ends %q", err.Error()[max(0, len(err.Error())-60):])
	}
}

// A file of more targets than MaxTargets is refused at the first row past.
func TestReadCSVMaxTargets(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,url,sector\n")
	for i := range 6 {
		fmt.Fprintf(&b, "t%d,https://x.test/,energy\n", i)
	}
	_, err := ReadCSV("f.csv", strings.NewReader(b.String()), Presets()["bulwark"], Limits{MaxTargets: 5})
	if err == nil || err.Error() != "f.csv:7: more than 5 targets in one file: split it" {
		t.Fatalf("ReadCSV = %v", err)
	}
}

// A body declared over 64 MiB is refused before it is read, and one that
// turns out larger while read too.
func TestImportTooLarge(t *testing.T) {
	srv := importServer(t)
	h := srv.Config.Handler
	req := httptest.NewRequest(http.MethodPost, "/?dry_run=true", strings.NewReader(""))
	req.Header.Set("Authorization", "Bearer op-token")
	req.ContentLength = maxImportBytes + 1
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("declared over the limit: HTTP %d", rec.Code)
	}
	body := io.MultiReader(strings.NewReader("id,name,url,sector\n"), iotest.HalfReader(&repeatedRows{n: maxImportBytes}))
	req = httptest.NewRequest(http.MethodPost, "/?dry_run=true", body)
	req.Header.Set("Authorization", "Bearer op-token")
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("larger than the limit while read: HTTP %d %.200s", rec.Code, rec.Body)
	}
}

// repeatedRows reads about n bytes of one CSV row repeated.
type repeatedRows struct{ n int }

func (z *repeatedRows) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	line := "a,b,https://c.test/,d\n"
	k := 0
	for k+len(line) <= len(p) && z.n > 0 {
		k += copy(p[k:], line)
		z.n -= len(line)
	}
	if k == 0 {
		k = copy(p, "\n")
		z.n--
	}
	return k, nil
}
