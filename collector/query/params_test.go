package query

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "0", want: time.Unix(0, 0).UTC()},
		{in: "1700000000", want: time.Unix(1700000000, 0).UTC()},
		{in: "1700000000.5", want: time.Unix(1700000000, 500*int64(time.Millisecond)).UTC()},
		// Fractions round to the millisecond.
		{in: "1.0004", want: time.Unix(1, 0).UTC()},
		{in: "1.0006", want: time.Unix(1, int64(time.Millisecond)).UTC()},
		{in: "-1.5", want: time.Unix(-1, -500*int64(time.Millisecond)).UTC()},
		{in: "2023-11-14T22:13:20Z", want: time.Unix(1700000000, 0).UTC()},
		{in: "2023-11-14T23:13:20.25+01:00", want: time.Unix(1700000000, 250*int64(time.Millisecond))},
		{in: "", err: `invalid parameter "t": missing`},
		{in: "NaN", err: `invalid parameter "t": "NaN" is out of range`},
		{in: "+Inf", err: `invalid parameter "t": "+Inf" is out of range`},
		{in: "1e14", err: `invalid parameter "t": "1e14" is out of range`},
		{in: "-1e14", err: `invalid parameter "t": "-1e14" is out of range`},
		{in: "yesterday", err: `invalid parameter "t": cannot parse "yesterday" to a valid timestamp`},
		{in: "2023-11-14", err: `invalid parameter "t": cannot parse "2023-11-14" to a valid timestamp`},
	} {
		got, err := parseTime(c.in, "t")
		if c.err != "" {
			if ae, ok := err.(*apiError); !ok || ae.typ != "bad_data" || ae.status != 400 || err.Error() != c.err {
				t.Errorf("parseTime(%q): error %v, want bad_data 400 %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseTimeParam(t *testing.T) {
	def := time.Unix(42, 0)
	r := httptest.NewRequest("GET", "/?time=&start=10", nil)
	r.ParseForm()
	if got, err := parseTimeParam(r, "time", def); err != nil || !got.Equal(def) {
		t.Errorf("empty time: %v, %v; want the default", got, err)
	}
	if got, err := parseTimeParam(r, "end", def); err != nil || !got.Equal(def) {
		t.Errorf("absent end: %v, %v; want the default", got, err)
	}
	if got, err := parseTimeParam(r, "start", def); err != nil || got.Unix() != 10 {
		t.Errorf("start=10: %v, %v", got, err)
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "15", want: 15 * time.Second},
		{in: "0.5", want: 500 * time.Millisecond},
		{in: "0", want: 0},
		{in: "-1", want: -time.Second},
		{in: "15s", want: 15 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "2h", want: 2 * time.Hour},
		{in: "1d", want: 24 * time.Hour},
		{in: "", err: `cannot parse "" to a valid duration`},
		{in: "NaN", err: `cannot parse "NaN" to a valid duration`},
		{in: "Inf", err: `cannot parse "Inf" to a valid duration`},
		{in: "1e10", err: `cannot parse "1e10" to a valid duration`},
		{in: "5 minutes", err: `cannot parse "5 minutes" to a valid duration`},
		{in: "-5m", err: `cannot parse "-5m" to a valid duration`},
	} {
		got, err := parseDuration(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("parseDuration(%q): error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		query string
		want  int
		err   string
	}{
		{query: "", want: 0},
		{query: "limit=", want: 0},
		{query: "limit=0", want: 0},
		{query: "limit=7", want: 7},
		{query: "limit=-1", err: `invalid parameter "limit": limit must be a non-negative integer, got "-1"`},
		{query: "limit=1.5", err: `invalid parameter "limit": limit must be a non-negative integer, got "1.5"`},
		{query: "limit=all", err: `invalid parameter "limit": limit must be a non-negative integer, got "all"`},
	} {
		r := httptest.NewRequest("GET", "/?"+c.query, nil)
		r.ParseForm()
		got, err := parseLimit(r)
		if c.err != "" {
			if ae, ok := err.(*apiError); !ok || ae.status != 400 || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.query, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %d, %v; want %d", c.query, got, err, c.want)
		}
	}
}

func TestLimitsWithDefaults(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != (Limits{DefaultMaxLabelBytes, DefaultMaxQueryLength, DefaultMaxRequestBytes}) {
		t.Errorf("zero Limits: %+v", got)
	}
	if got := (Limits{MaxQueryLength: -1, MaxRequestBytes: -1}).withDefaults(); got.MaxQueryLength != DefaultMaxQueryLength ||
		got.MaxRequestBytes != DefaultMaxRequestBytes {
		t.Errorf("negative Limits: %+v", got)
	}
	set := Limits{MaxLabelBytes: 1, MaxQueryLength: 2, MaxRequestBytes: 3}
	if got := set.withDefaults(); got != set {
		t.Errorf("set Limits changed: %+v", got)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Options{}); err == nil || err.Error() != "query: Queryable is required" {
		t.Errorf("no Queryable: %v", err)
	}
	db := openDB(t)
	a, err := New(Options{Queryable: db})
	if err != nil {
		t.Fatal(err)
	}
	o := a.opts
	if o.Timeout != 30*time.Second || o.MaxSamples != 5_000_000 || o.MaxConcurrent != 8 || o.LookbackDelta != 5*time.Minute ||
		o.Logger == nil || cap(a.gate) != 8 || cap(a.reading) != 32 || a.qlog != nil || a.Engine() == nil {
		t.Errorf("defaults: %+v, gate %d, reading %d", o, cap(a.gate), cap(a.reading))
	}
	if _, err := New(Options{Queryable: db, LogFile: t.TempDir()}); err == nil || !strings.HasPrefix(err.Error(), "query log: ") {
		t.Errorf("a directory as the query log: %v", err)
	}
}

// The query text is bounded in length and nesting before the engine sees it.
func TestParse(t *testing.T) {
	db := openDB(t)
	a, err := New(Options{Queryable: db, Limits: Limits{MaxQueryLength: 20}})
	if err != nil {
		t.Fatal(err)
	}
	nest := func(n int) string { return strings.Repeat("(", n) + "1" + strings.Repeat(")", n) }
	for _, c := range []struct{ query, err string }{
		{query: "sum(rate(m[5m]))"},
		{query: strings.Repeat("m+", 9) + "mm"}, // 20 bytes
		{query: strings.Repeat("m+", 10) + "m", err: `invalid parameter "query": 21 bytes, over the limit of 20 (query.max_query_length)`},
		{query: "sum((", err: `invalid parameter "query": 1:6: parse error: unclosed left parenthesis`},
		{query: nest(9)},
		{query: nest(10) + "", err: `invalid parameter "query": 21 bytes, over the limit of 20 (query.max_query_length)`},
	} {
		_, err := a.parse(c.query)
		if c.err == "" && err != nil || c.err != "" && (err == nil || err.Error() != c.err) {
			t.Errorf("%q: %v, want %q", c.query, err, c.err)
		}
	}
	a.opts.Limits.MaxQueryLength = 1 << 20
	// The literal one level below the last parenthesis.
	if _, err := a.parse(nest(maxDepth - 1)); err != nil {
		t.Errorf("%d deep: %v", maxDepth, err)
	}
	if _, err := a.parse(nest(maxDepth)); err == nil || err.Error() != `invalid parameter "query": nested 129 deep, over the limit of 128` {
		t.Errorf("%d deep: %v", maxDepth+1, err)
	}
}
