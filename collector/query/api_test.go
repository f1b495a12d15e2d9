package query

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// openDB opens an empty TSDB, closed when the test ends.
func openDB(t testing.TB) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openSmall opens a TSDB of three series with a sample a minute from
// t=1000s to t=1600s: up of two node instances (1 and 0) and one
// probe_success.
func openSmall(t *testing.T) *tsdb.DB {
	t.Helper()
	db := openDB(t)
	app := db.Appender(context.Background())
	for _, s := range []struct {
		l labels.Labels
		v float64
	}{
		{labels.FromStrings("__name__", "up", "job", "node", "instance", "a:9100"), 1},
		{labels.FromStrings("__name__", "up", "job", "node", "instance", "b:9100"), 0},
		{labels.FromStrings("__name__", "probe_success", "job", "probe", "target", "example.org"), 1},
	} {
		for ts := int64(1000); ts <= 1600; ts += 60 {
			if _, err := app.Append(0, s.l, ts*1000, s.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

// newMux returns the API over q with opts, and a mux serving it.
func newMux(t testing.TB, q storage.Queryable, opts Options) (*API, *http.ServeMux) {
	t.Helper()
	opts.Queryable = q
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	return a, mux
}

// newTestAPI returns the API over q with opts, and a function answering a
// request to it: the status code and the body.
func newTestAPI(t *testing.T, q storage.Queryable, opts Options) (*API, func(method, target string) (int, string)) {
	t.Helper()
	a, mux := newMux(t, q, opts)
	return a, func(method, target string) (int, string) {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, target, ct)
		}
		return w.Code, w.Body.String()
	}
}

// The answers, in Prometheus's shapes, of the five query routes over a
// small store.
func TestAnswers(t *testing.T) {
	_, do := newTestAPI(t, openSmall(t), Options{})
	for _, c := range []struct{ target, want string }{
		{"/api/v1/query?query=up&time=1600",
			`{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"a:9100","job":"node"},"value":[1600,"1"]},` +
				`{"metric":{"__name__":"up","instance":"b:9100","job":"node"},"value":[1600,"0"]}]}`},
		{"/api/v1/query?query=sum(up)&time=1600.5",
			`{"resultType":"vector","result":[{"metric":{},"value":[1600.5,"1"]}]}`},
		{"/api/v1/query?query=up&time=2000",
			`{"resultType":"vector","result":[]}`},
		{"/api/v1/query_range?query=sum+by+(job)(up)&start=1000&end=1120&step=60",
			`{"resultType":"matrix","result":[{"metric":{"job":"node"},"values":[[1000,"1"],[1060,"1"],[1120,"1"]]}]}`},
		{"/api/v1/query_range?query=probe_success&start=1590&end=1650&step=30s",
			`{"resultType":"matrix","result":[{"metric":{"__name__":"probe_success","job":"probe","target":"example.org"},` +
				`"values":[[1590,"1"],[1620,"1"],[1650,"1"]]}]}`},
		{"/api/v1/series?match[]=up",
			`[{"__name__":"up","instance":"a:9100","job":"node"},{"__name__":"up","instance":"b:9100","job":"node"}]`},
		{"/api/v1/series?match[]=up&match[]=probe_success&limit=2",
			`[{"__name__":"probe_success","job":"probe","target":"example.org"},{"__name__":"up","instance":"a:9100","job":"node"}]` +
				`,"warnings":["results truncated due to limit"]`},
		{"/api/v1/series?match[]=up&start=1700", `[]`},
		{"/api/v1/labels", `["__name__","instance","job","target"]`},
		{"/api/v1/labels?match[]=up", `["__name__","instance","job"]`},
		{"/api/v1/label/job/values", `["node","probe"]`},
		{"/api/v1/label/__name__/values?match[]={job=\"node\"}", `["up"]`},
		{"/api/v1/label/instance/values?limit=1", `["a:9100"],"warnings":["results truncated due to limit"]`},
		{"/api/v1/format_query?query=sum+by(job)(up)", `"sum by (job) (up)"`},
		{"/api/v1/query_exemplars?query=up&start=0&end=10", `[]`},
		{"/api/v1/metadata?metric=ALERTS", `{"ALERTS":[{"type":"gauge","help":"Active alerts, pending and firing.","unit":""}]}`},
		{"/api/v1/metadata?limit=0", `{}`},
	} {
		code, body := do("GET", c.target)
		if want := `{"status":"success","data":` + c.want + `}`; code != 200 || body != want {
			t.Errorf("%s: %d %s\nwant 200 %s", c.target, code, body, want)
		}
	}
}

// failing is a storage whose queriers cannot be opened.
type failing struct{}

func (failing) Querier(int64, int64) (storage.Querier, error) { return nil, errors.New("disk on fire") }

// The errors every query route's prologue (method, form, parameters,
// selectors, range, limit, timeout, query slot, querier) answers: the
// status, the errorType and the message, and which is found first.
func TestPrologueErrors(t *testing.T) {
	type errCase struct {
		method, target string
		code           int
		typ, msg       string
	}
	check := func(t *testing.T, do func(string, string) (int, string), cases []errCase) {
		t.Helper()
		for _, c := range cases {
			if c.method == "" {
				c.method = "GET"
			}
			code, body := do(c.method, c.target)
			want := `{"status":"error","errorType":"` + c.typ + `","error":"` + strings.ReplaceAll(c.msg, `"`, `\"`) + `"}`
			if code != c.code || body != want {
				t.Errorf("%s %s: %d %s\nwant %d %s", c.method, c.target, code, body, c.code, want)
			}
		}
	}
	const bad, internal, slot = 400, 500, 503
	t.Run("parameters", func(t *testing.T) {
		_, do := newTestAPI(t, openSmall(t), Options{})
		check(t, do, []errCase{
			{"PUT", "/api/v1/query?query=up", 405, "bad_data", "use GET or POST"},
			{"DELETE", "/api/v1/series?match[]=up", 405, "bad_data", "use GET or POST"},
			{"GET", "/api/v1/labels?%zz", bad, "bad_data", `parse form: invalid URL escape "%zz"`},
			// query
			{"", "/api/v1/query", bad, "bad_data", `invalid parameter "query": unknown position: parse error: no expression found in input`},
			{"", "/api/v1/query?query=sum((", bad, "bad_data", `invalid parameter "query": 1:6: parse error: unclosed left parenthesis`},
			{"", "/api/v1/query?query=up&time=yesterday", bad, "bad_data", `invalid parameter "time": cannot parse "yesterday" to a valid timestamp`},
			{"", "/api/v1/query?query=up&timeout=soon", bad, "bad_data", `invalid parameter "timeout": cannot parse "soon" to a valid duration`},
			{"", "/api/v1/query?query=rate(up)", bad, "bad_data", `invalid parameter "query": 1:6: parse error: expected type range vector in call to function "rate", got instant vector`},
			// The time is read before the query, the query before the timeout.
			{"", "/api/v1/query?query=sum((&time=yesterday", bad, "bad_data", `invalid parameter "time": cannot parse "yesterday" to a valid timestamp`},
			{"", "/api/v1/query?query=sum((&timeout=soon", bad, "bad_data", `invalid parameter "query": 1:6: parse error: unclosed left parenthesis`},
			// query_range
			{"", "/api/v1/query_range?query=up&end=10&step=1", bad, "bad_data", `invalid parameter "start": missing`},
			{"", "/api/v1/query_range?query=up&start=0&step=1", bad, "bad_data", `invalid parameter "end": missing`},
			{"", "/api/v1/query_range?query=up&start=0&end=x&step=1", bad, "bad_data", `invalid parameter "end": cannot parse "x" to a valid timestamp`},
			{"", "/api/v1/query_range?query=up&start=10&end=5&step=1", bad, "bad_data", "end timestamp must not be before start time"},
			{"", "/api/v1/query_range?query=up&start=0&end=10", bad, "bad_data", `invalid parameter "step": cannot parse "" to a valid duration`},
			{"", "/api/v1/query_range?query=up&start=0&end=10&step=0", bad, "bad_data",
				"zero or negative query resolution step widths are not accepted. Try a positive integer"},
			{"", "/api/v1/query_range?query=up&start=0&end=10&step=-1", bad, "bad_data",
				"zero or negative query resolution step widths are not accepted. Try a positive integer"},
			{"", "/api/v1/query_range?query=up&start=0&end=11001&step=1", bad, "bad_data",
				"exceeded maximum resolution of 11000 points per timeseries. Try decreasing the query resolution (?step=XX)"},
			{"", "/api/v1/query_range?query=sum((&start=0&end=10&step=1&timeout=soon", bad, "bad_data",
				`invalid parameter "query": 1:6: parse error: unclosed left parenthesis`},
			{"", "/api/v1/query_range?query=up&start=0&end=10&step=1&timeout=soon", bad, "bad_data",
				`invalid parameter "timeout": cannot parse "soon" to a valid duration`},
			// series
			{"", "/api/v1/series", bad, "bad_data", "no match[] parameter provided"},
			{"", "/api/v1/series?match[]={", bad, "bad_data", `invalid parameter "match[]": 1:2: parse error: unexpected end of input inside braces`},
			{"", "/api/v1/series?match[]=up&start=x", bad, "bad_data", `invalid parameter "start": cannot parse "x" to a valid timestamp`},
			{"", "/api/v1/series?match[]=up&end=x", bad, "bad_data", `invalid parameter "end": cannot parse "x" to a valid timestamp`},
			{"", "/api/v1/series?match[]=up&limit=x", bad, "bad_data", `invalid parameter "limit": limit must be a non-negative integer, got "x"`},
			{"", "/api/v1/series?match[]=up&timeout=soon", bad, "bad_data", `invalid parameter "timeout": cannot parse "soon" to a valid duration`},
			// Selectors first, then the range, the limit and the timeout.
			{"", "/api/v1/series?start=x&limit=x&timeout=soon", bad, "bad_data", "no match[] parameter provided"},
			{"", "/api/v1/series?match[]=up&start=x&limit=x&timeout=soon", bad, "bad_data", `invalid parameter "start": cannot parse "x" to a valid timestamp`},
			{"", "/api/v1/series?match[]=up&limit=x&timeout=soon", bad, "bad_data", `invalid parameter "limit": limit must be a non-negative integer, got "x"`},
			// labels and label values
			{"", "/api/v1/labels?match[]={", bad, "bad_data", `invalid parameter "match[]": 1:2: parse error: unexpected end of input inside braces`},
			{"", "/api/v1/labels?start=x", bad, "bad_data", `invalid parameter "start": cannot parse "x" to a valid timestamp`},
			{"", "/api/v1/labels?limit=-1", bad, "bad_data", `invalid parameter "limit": limit must be a non-negative integer, got "-1"`},
			{"", "/api/v1/labels?timeout=soon", bad, "bad_data", `invalid parameter "timeout": cannot parse "soon" to a valid duration`},
			{"", "/api/v1/label/bad-name/values", bad, "bad_data", `invalid label name: "bad-name"`},
			{"", "/api/v1/label/job/values?match[]={&end=x", bad, "bad_data", `invalid parameter "match[]": 1:2: parse error: unexpected end of input inside braces`},
			{"", "/api/v1/label/job/values?end=x&timeout=soon", bad, "bad_data", `invalid parameter "end": cannot parse "x" to a valid timestamp`},
			{"", "/api/v1/label/job/values?timeout=soon", bad, "bad_data", `invalid parameter "timeout": cannot parse "soon" to a valid duration`},
			// Grafana's other routes
			{"", "/api/v1/metadata?limit=x", bad, "bad_data", `limit "x" is not an integer`},
			{"", "/api/v1/query_exemplars?query=up&start=x", bad, "bad_data", `invalid parameter "start": cannot parse "x" to a valid timestamp`},
			{"", "/api/v1/format_query?query=sum((", bad, "bad_data", `invalid parameter "query": 1:6: parse error: unclosed left parenthesis`},
		})
	})
	t.Run("querier", func(t *testing.T) {
		_, do := newTestAPI(t, failing{}, Options{})
		check(t, do, []errCase{
			{"", "/api/v1/series?match[]=up", internal, "internal", "disk on fire"},
			{"", "/api/v1/labels", internal, "internal", "disk on fire"},
			{"", "/api/v1/label/job/values", internal, "internal", "disk on fire"},
			// The parameters are checked before the querier is opened.
			{"", "/api/v1/series?match[]=up&limit=x", bad, "bad_data", `invalid parameter "limit": limit must be a non-negative integer, got "x"`},
			// The engine hands the querier's error on as it is: an
			// execution error, as Prometheus answers it.
			{"", "/api/v1/query?query=up&time=1600", 422, "execution", "disk on fire"},
			{"", "/api/v1/query_range?query=up&start=0&end=10&step=1", 422, "execution", "disk on fire"},
		})
	})
	t.Run("slot", func(t *testing.T) {
		a, do := newTestAPI(t, openSmall(t), Options{MaxConcurrent: 1})
		a.gate <- struct{}{} // the only slot is taken
		defer func() { <-a.gate }()
		full := "no query slot free within 0s (1 queries run at once)"
		check(t, do, []errCase{
			{"", "/api/v1/query?query=up&timeout=0", slot, "timeout", full},
			{"", "/api/v1/query_range?query=up&start=0&end=10&step=1&timeout=0", slot, "timeout", full},
			{"", "/api/v1/series?match[]=up&timeout=0", slot, "timeout", full},
			{"", "/api/v1/labels?timeout=0", slot, "timeout", full},
			{"", "/api/v1/label/job/values?timeout=0", slot, "timeout", full},
			// What is wrong with the request is said before waiting for a slot.
			{"", "/api/v1/query?query=sum((&timeout=0", bad, "bad_data", `invalid parameter "query": 1:6: parse error: unclosed left parenthesis`},
			{"", "/api/v1/series?timeout=0", bad, "bad_data", "no match[] parameter provided"},
			{"", "/api/v1/labels?limit=x&timeout=0", bad, "bad_data", `invalid parameter "limit": limit must be a non-negative integer, got "x"`},
		})
	})
}

// Every answer frees its query slot: with one slot, many requests in a row
// (answers and errors after the slot was taken) all get one.
func TestSlotFreed(t *testing.T) {
	a, do := newTestAPI(t, failing{}, Options{MaxConcurrent: 1})
	for range 3 {
		for _, target := range []string{"/api/v1/query?query=1", "/api/v1/query?query=up", "/api/v1/series?match[]=up",
			"/api/v1/labels", "/api/v1/label/job/values", "/api/v1/query_range?query=1&start=0&end=10&step=1"} {
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			if code, body := do("GET", target+sep+"timeout=1s"); code == 503 {
				t.Fatalf("%s: %d %s", target, code, body)
			}
		}
	}
	if len(a.gate) != 0 {
		t.Errorf("%d slots still held", len(a.gate))
	}
}
