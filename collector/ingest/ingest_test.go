package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

type fixture struct {
	db  *tsdb.DB
	srv *httptest.Server
	now time.Time
}

func newFixture(t *testing.T, limits Limits) *fixture {
	t.Helper()
	o := tsdb.DefaultOptions()
	o.OutOfOrderTimeWindow = time.Hour.Milliseconds()
	db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	agents := auth.NewAgents()
	agents.Add("home-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	f := &fixture{db: db, now: time.Now()}
	h, err := New(Options{Store: db, Agents: agents, Limits: limits, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) post(t *testing.T, token string, body []byte, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Encoding", "snappy")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(msg))
}

func series(name, target string, ts int64, v float64, extra ...wire.Label) wire.Series {
	ls := append([]wire.Label{{Name: "__name__", Value: name}}, extra...)
	ls = append(ls, wire.Label{Name: "target", Value: target})
	return wire.Series{Labels: ls, Samples: []wire.Sample{{Value: v, Timestamp: ts}}}
}

func body(ss ...wire.Series) []byte {
	return wire.Compress(nil, &wire.WriteRequest{Series: ss})
}

// count returns the number of samples stored for probe_success.
func (f *fixture) count(t *testing.T) int {
	t.Helper()
	q, err := f.db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "probe_success"))
	n := 0
	for set.Next() {
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			n++
		}
	}
	return n
}

func TestAcceptAndStamp(t *testing.T) {
	f := newFixture(t, Limits{})
	ts := f.now.UnixMilli()
	// An agent trying to claim another identity is overwritten.
	code, msg := f.post(t, "home-token", body(series("probe_success", "grid", ts, 1,
		wire.Label{Name: "agent", Value: "someone-else"})))
	if code != http.StatusNoContent {
		t.Fatalf("code %d: %s", code, msg)
	}
	q, _ := f.db.Querier(0, math.MaxInt64)
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "target", "grid"))
	if !set.Next() {
		t.Fatal("series not stored")
	}
	got := set.At().Labels()
	if got.Get("agent") != "home-1" || got.Get("vantage") != "home" {
		t.Fatalf("labels not stamped from the token: %s", got)
	}
}

// Every kind of bad input gets a 4xx with a clear message, and what was
// accepted before stays stored.
func TestBadInput(t *testing.T) {
	f := newFixture(t, Limits{MaxBodyBytes: 4096, MaxSeriesPerRequest: 5, MaxLabelsPerSeries: 4})
	ts := f.now.UnixMilli()
	if code, msg := f.post(t, "home-token", body(series("probe_success", "before", ts-1000, 1))); code != http.StatusNoContent {
		t.Fatalf("baseline write: %d %s", code, msg)
	}
	many := make([]wire.Series, 6)
	for i := range many {
		many[i] = series("probe_success", "t"+string(rune('a'+i)), ts, 1)
	}
	big := make([]byte, 8192)
	for i := range big {
		big[i] = byte(i * 7)
	}
	cases := []struct {
		name, token string
		body        []byte
		hdr         []string
		code        int
		msg         string
	}{
		{"no token", "", body(series("probe_success", "x", ts, 1)), nil, 401, "missing or unknown bearer token"},
		{"wrong token", "nope", body(series("probe_success", "x", ts, 1)), nil, 401, "missing or unknown bearer token"},
		{"bad snappy", "home-token", []byte("\xff\xff\xff\xffnot snappy"), nil, 400, "decode: snappy: "},
		{"bad protobuf", "home-token", snappy.Encode(nil, []byte{0x0a, 0x7f, 0x01}), nil, 400, "decode: protobuf: "},
		{"body over limit", "home-token", big, nil, 413, "exceeds the limit of 4096"},
		{"gzip", "home-token", body(series("probe_success", "x", ts, 1)), []string{"Content-Encoding", "gzip"}, 415, `Content-Encoding "gzip" is not supported`},
		{"too many series", "home-token", body(many...), nil, 400, "limit exceeded: more than 5 series in one request"},
		{"too many labels", "home-token", body(series("probe_success", "x", ts, 1,
			wire.Label{Name: "a", Value: "1"}, wire.Label{Name: "b", Value: "2"}, wire.Label{Name: "c", Value: "3"}, wire.Label{Name: "d", Value: "4"})),
			nil, 400, "series 0: has 6 labels, more than the limit of 4"},
		{"invalid label name", "home-token", body(series("probe_success", "x", ts, 1, wire.Label{Name: "bad-name", Value: "v"})),
			nil, 400, `series 0: invalid label name "bad-name"`},
		{"invalid metric name", "home-token", body(series("probe success", "x", ts, 1)), nil, 400, `metric name "probe success" is missing or invalid`},
		{"unsorted labels", "home-token", body(wire.Series{Labels: []wire.Label{{Name: "target", Value: "x"}, {Name: "__name__", Value: "up"}},
			Samples: []wire.Sample{{Value: 1, Timestamp: ts}}}), nil, 400, "labels must be sorted by name and unique"},
		{"missing timestamp", "home-token", body(series("probe_success", "x", 0, 1)), nil, 400, "timestamp 0 is not a Unix time in milliseconds"},
		{"future timestamp", "home-token", body(series("probe_success", "x", ts+int64(time.Hour/time.Millisecond), 1)), nil, 400, "in the future"},
		{"no samples", "home-token", body(wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "up"}}}), nil, 400, "has no samples"},
		{"invalid utf8", "home-token", body(series("probe_success", "\xff\xfe", ts, 1)), nil, 400, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, msg := f.post(t, c.token, c.body, c.hdr...)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Fatalf("got %d %q, want %d containing %q", code, msg, c.code, c.msg)
			}
		})
	}
	// A valid request after all that still works, and the first is still there.
	if code, msg := f.post(t, "home-token", body(series("probe_success", "after", ts, 1))); code != http.StatusNoContent {
		t.Fatalf("write after bad input: %d %s", code, msg)
	}
	if n := f.count(t); n != 2 {
		t.Fatalf("%d probe_success samples stored, want 2 (nothing from refused requests)", n)
	}
	// NaN values are valid samples (Prometheus uses them as staleness markers).
	if code, msg := f.post(t, "home-token", body(series("probe_success", "nan", ts, math.NaN()))); code != http.StatusNoContent {
		t.Fatalf("NaN value refused: %d %s", code, msg)
	}
}

// A batch retried after a lost answer is stored once, and samples older
// than the out-of-order window are refused with a reason.
func TestRetryIdempotentAndTooOld(t *testing.T) {
	f := newFixture(t, Limits{})
	ts := f.now.UnixMilli()
	b := body(series("probe_success", "grid", ts, 1))
	for range 3 {
		if code, msg := f.post(t, "home-token", b); code != http.StatusNoContent {
			t.Fatalf("%d %s", code, msg)
		}
	}
	// Older, within the window: accepted out of order.
	if code, msg := f.post(t, "home-token", body(series("probe_success", "grid", ts-30*60*1000, 1))); code != http.StatusNoContent {
		t.Fatalf("out-of-order sample within window: %d %s", code, msg)
	}
	if n := f.count(t); n != 2 {
		t.Fatalf("%d samples stored, want 2", n)
	}
	code, msg := f.post(t, "home-token", body(series("probe_success", "grid", ts-3*3600*1000, 1)))
	if code != http.StatusBadRequest || !strings.Contains(msg, "1 samples outside the accepted time window") {
		t.Fatalf("too old: %d %s", code, msg)
	}
	var _ storage.Appendable = f.db
}

func FuzzIngestBody(f *testing.F) {
	f.Add(body(series("probe_success", "grid", time.Now().UnixMilli(), 1)))
	f.Add([]byte("garbage"))
	o := tsdb.DefaultOptions()
	db, err := tsdb.Open(f.TempDir(), nil, nil, o, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	agents := auth.NewAgents()
	agents.Add("tok", auth.Identity{Agent: "a", Vantage: "home"})
	h, _ := New(Options{Store: db, Agents: agents})
	f.Fuzz(func(t *testing.T, b []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("server error %d: %s", rec.Code, rec.Body)
		}
	})
}

// Labels decoded without copying must not leak into the store: after many
// requests reuse the decode buffers, every stored series keeps its labels,
// and the same labels from two agents are two series.
func TestStoredLabelsSurviveBufferReuse(t *testing.T) {
	f := newFixture(t, Limits{})
	ts := f.now.UnixMilli()
	for i := range 50 {
		target := fmt.Sprintf("svc-%02d", i)
		if code, msg := f.post(t, "home-token", body(series("probe_success", target, ts, 1), series("probe_success", target, ts, 1))); code != http.StatusNoContent {
			t.Fatalf("%d %s", code, msg)
		}
		// The same series again hits the cache.
		if code, msg := f.post(t, "home-token", body(series("probe_success", target, ts+1000, 1))); code != http.StatusNoContent {
			t.Fatalf("%d %s", code, msg)
		}
	}
	q, _ := f.db.Querier(0, math.MaxInt64)
	defer q.Close()
	set := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "probe_success"))
	var got []string
	for set.Next() {
		got = append(got, set.At().Labels().Get("target"))
	}
	if len(got) != 50 {
		t.Fatalf("%d series stored, want 50", len(got))
	}
	for i, tg := range got {
		if want := fmt.Sprintf("svc-%02d", i); tg != want {
			t.Fatalf("series %d has target %q, want %q: labels corrupted", i, tg, want)
		}
	}
}

func TestSameLabels(t *testing.T) {
	in := []wire.Label{{Name: "__name__", Value: "up"}, {Name: "agent", Value: "spoofed"}, {Name: "empty", Value: ""}, {Name: "target", Value: "x"}}
	lset := labels.FromStrings("__name__", "up", "agent", "a1", "target", "x", "vantage", "home")
	if !sameLabels(lset, "a1", in) {
		t.Fatal("equal label sets reported different")
	}
	if sameLabels(lset, "a2", in) {
		t.Fatal("another agent's series matched")
	}
	if sameLabels(lset, "a1", in[:2]) || sameLabels(lset, "a1", append(in, wire.Label{Name: "zz", Value: "1"})) {
		t.Fatal("different label sets reported equal")
	}
	if key("a1", in) == key("a2", in) {
		t.Fatal("agents share a cache key")
	}
}
