package ingest

import (
	"bytes"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

// postFull is post returning the samples-written header and Retry-After.
func (f *fixture) postFull(t *testing.T, b []byte) (code int, msg string, written int, retryAfter string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(b))
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Authorization", "Bearer home-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	written, _ = strconv.Atoi(resp.Header.Get(HeaderSamplesWritten))
	return resp.StatusCode, strings.TrimSpace(buf.String()), written, resp.Header.Get("Retry-After")
}

// One bad series does not sink a batch: the others are stored, the answer
// says what was refused and how many samples were written (issue 8).
func TestOneBadSeriesKeepsTheOthers(t *testing.T) {
	f := newFixture(t, Limits{})
	ts := f.now.UnixMilli()
	ss := []wire.Series{series("probe_success", "a", ts, 1)}
	ss = append(ss, series("probe_success", "b", ts, 1, wire.Label{Name: "bad-name", Value: "x"}))
	ss = append(ss, series("probe_success", "c", ts, 1), series("probe_success", "d", ts, 1))
	code, msg, written, _ := f.postFull(t, body(ss...))
	if code != http.StatusBadRequest || written != 3 ||
		!strings.Contains(msg, `stored 3 samples; refused 1 samples of 1 series: series 1: invalid label name "bad-name"`) {
		t.Fatalf("got %d written=%d %q", code, written, msg)
	}
	if n := f.count(t); n != 3 {
		t.Fatalf("%d samples stored, want the 3 good ones", n)
	}
	// Current and too-old samples in one request: the current ones are stored and counted.
	code, msg, written, _ = f.postFull(t, body(series("probe_success", "e", ts, 1), series("probe_success", "f", ts-3*3600*1000, 1)))
	if code != http.StatusBadRequest || written != 1 || !strings.Contains(msg, "1 samples outside the accepted time window") {
		t.Fatalf("mixed ages: %d written=%d %q", code, written, msg)
	}
	if code, _, written, _ := f.postFull(t, body(series("probe_success", "g", ts, 1))); code != http.StatusNoContent || written != 1 {
		t.Fatalf("good request: %d written=%d", code, written)
	}
}

// An agent over its rate gets 429 with Retry-After; over its series limit,
// its new series are refused and its known ones still stored.
func TestAgentLimits(t *testing.T) {
	f := newFixture(t, Limits{SamplesPerSecond: 1, Burst: 3, MaxSeriesPerAgent: 2})
	ts := f.now.UnixMilli()
	code, msg, written, _ := f.postFull(t, body(series("probe_success", "a", ts, 1), series("probe_success", "b", ts, 1), series("probe_success", "c", ts, 1)))
	if code != http.StatusBadRequest || written != 2 || !strings.Contains(msg, "created 2 series within two hours, its limit") {
		t.Fatalf("series limit: %d written=%d %q", code, written, msg)
	}
	code, msg, _, retry := f.postFull(t, body(series("probe_success", "a", ts+1000, 1)))
	if code != http.StatusTooManyRequests || retry == "" || !strings.Contains(msg, "over its rate of 1 samples/s") {
		t.Fatalf("rate: %d Retry-After=%q %q", code, retry, msg)
	}
	f.now = f.now.Add(2 * time.Second) // the bucket refills with the clock
	if code, msg, written, _ := f.postFull(t, body(series("probe_success", "a", ts+2000, 1))); code != http.StatusNoContent || written != 1 {
		t.Fatalf("after waiting: %d written=%d %q", code, written, msg)
	}
}

// allocated is how many bytes the heap allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Issue 8: a 3 MB snappy body of empty series (0a 00 repeated) took the
// collector to 4.9 GB, and one of empty label entries to 7.2 GB, because
// limits were checked after decoding. Now they are counted while decoding:
// each request allocates a bounded amount, and no buffer stays pooled at
// the hostile size.
func TestHostileBodiesStayBounded(t *testing.T) {
	f := newFixture(t, Limits{MaxDecodedBytes: 64 << 20})
	emptySeries := bytes.Repeat([]byte{0x0a, 0x00}, 16<<20)
	// One series holding a million empty labels: 0a <len> (0a 00)*n.
	labels := bytes.Repeat([]byte{0x0a, 0x00}, 1<<20)
	emptyLabels := append(append([]byte{0x0a}, uvarint(len(labels))...), labels...)
	for name, pb := range map[string][]byte{"empty series": emptySeries, "empty labels": emptyLabels} {
		b := snappy.Encode(nil, pb)
		var code int
		var msg string
		n := allocated(func() {
			for range 3 {
				code, msg, _, _ = f.postFull(t, b)
			}
		})
		if code != http.StatusBadRequest {
			t.Fatalf("%s: %d %q", name, code, msg)
		}
		// The decoded buffer (up to 64 MiB) is allocated per request; the
		// structures stay within the series and label limits.
		if n > 3*(64<<20)+64<<20 {
			t.Errorf("%s (%d bytes snappy): %d MiB allocated for 3 requests", name, len(b), n>>20)
		}
		t.Logf("%s: %d KiB body, %d MiB allocated for 3 requests: %s", name, len(b)>>10, n>>20, msg)
	}
	// Nothing larger than maxPooled is kept for the next request.
	h := f.srv.Config.Handler.(*Handler)
	for range 4 {
		if st, _ := h.pool.Get().(*state); st != nil && (cap(st.decoded) > maxPooled || cap(st.body) > maxPooled) {
			t.Fatalf("a %d MiB decode buffer was pooled", cap(st.decoded)>>20)
		}
	}
}

func uvarint(n int) []byte {
	var b []byte
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}
