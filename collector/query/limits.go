package query

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Limits bound the memory a request can make the API hold, besides the
// samples (Options.MaxSamples) and the queries at once
// (Options.MaxConcurrent). Zero values take the defaults.
type Limits struct {
	// MaxLabelBytes bounds the label bytes one query may hold: those of
	// the series it loads, multiplied by what label_join and
	// label_replace can make of them, and those of a series, labels or
	// label values answer (default 16 MiB).
	MaxLabelBytes uint64
	// MaxQueryLength bounds a query's text (default 16 KiB).
	MaxQueryLength int
	// MaxRequestBytes bounds a request's form body (default 256 KiB).
	MaxRequestBytes int64
}

// Default limits.
const (
	DefaultMaxLabelBytes   = 16 << 20
	DefaultMaxQueryLength  = 16 << 10
	DefaultMaxRequestBytes = 256 << 10
	// maxDepth bounds a query's nesting: the engine and the pretty
	// printer recurse through it, format_query in quadratic time.
	maxDepth = 128
)

func (l Limits) withDefaults() Limits {
	if l.MaxLabelBytes == 0 {
		l.MaxLabelBytes = DefaultMaxLabelBytes
	}
	if l.MaxQueryLength <= 0 {
		l.MaxQueryLength = DefaultMaxQueryLength
	}
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = DefaultMaxRequestBytes
	}
	return l
}

// errTruncated is Prometheus's warning for an answer cut at limit.
var errTruncated = errors.New("results truncated due to limit")

// parseForm reads the request's parameters, a body at most
// MaxRequestBytes long, and a few bodies at once: more wait, within the
// request's deadline.
func (a *API) parseForm(w http.ResponseWriter, r *http.Request) error {
	if r.Body != nil && r.Body != http.NoBody && r.Method == http.MethodPost {
		select {
		case a.reading <- struct{}{}:
			defer func() { <-a.reading }()
		case <-r.Context().Done():
			return &apiError{"timeout", http.StatusServiceUnavailable, fmt.Errorf("no request slot free: %w", r.Context().Err())}
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.opts.Limits.MaxRequestBytes)
	}
	if err := r.ParseForm(); err != nil {
		if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
			return &apiError{"bad_data", http.StatusRequestEntityTooLarge,
				fmt.Errorf("request body over %d bytes (query.max_request_bytes)", mb.Limit)}
		}
		return badData("parse form: %v", err)
	}
	return nil
}

// parse checks a query's length and nesting and parses it.
func (a *API) parse(qs string) (parser.Expr, error) {
	if len(qs) > a.opts.Limits.MaxQueryLength {
		return nil, badData("invalid parameter \"query\": %d bytes, over the limit of %d (query.max_query_length)",
			len(qs), a.opts.Limits.MaxQueryLength)
	}
	expr, err := a.parser.ParseExpr(qs)
	if err != nil {
		return nil, badData("invalid parameter \"query\": %v", err)
	}
	if d := depth(expr); d > maxDepth {
		return nil, badData("invalid parameter \"query\": nested %d deep, over the limit of %d", d, maxDepth)
	}
	return expr, nil
}

// budget checks a query and returns the storage to evaluate it on, which
// refuses the series that would take it past MaxLabelBytes.
func (a *API) budget(qs string) (storage.Queryable, error) {
	expr, err := a.parse(qs)
	if err != nil {
		return nil, err
	}
	g := growth(expr, len(qs))
	b := &labelBudget{limit: a.opts.Limits.MaxLabelBytes, g: g}
	if h := b.held(); h > b.limit {
		// Over before it loads anything: the literals alone.
		return nil, &apiError{"execution", http.StatusUnprocessableEntity,
			fmt.Errorf("%w: label_join/label_replace would build labels of more than %s (query.max_label_bytes)", ErrTooLarge, mib(b.limit))}
	}
	return budgetQueryable{Queryable: a.opts.Queryable, b: b}, nil
}

// depth is how deep expr nests.
func depth(expr parser.Expr) int {
	d := 0
	var walk func(parser.Node, int)
	walk = func(n parser.Node, level int) {
		d = max(d, level)
		if level > maxDepth {
			return
		}
		for _, c := range parser.Children(n) {
			walk(c, level+1)
		}
	}
	walk(expr, 1)
	return d
}

// parseLimit reads the limit parameter of series, labels and label values
// (0: none).
func parseLimit(r *http.Request) (int, error) {
	s := r.FormValue("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badData("invalid parameter \"limit\": limit must be a non-negative integer, got %q", s)
	}
	return n, nil
}
