package query

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// ErrTooLarge is wrapped by every error of a query refused for the memory
// it would take (its bytes, not its samples).
var ErrTooLarge = errors.New("query too large")

// A labelBudget counts the label bytes of the series one query loads and
// refuses the series that would let the query hold more than limit bytes
// of labels, counting what label_join and label_replace can make of them
// (see growth). It is checked as each series is read, before the engine
// builds anything from it.
type labelBudget struct {
	limit uint64
	g     labelGrowth

	mu     sync.Mutex
	series uint64 // series loaded
	bytes  uint64 // their label bytes
	widest uint64 // the largest label bytes of one series
}

// held is the most label bytes the query can hold with what it loaded:
// every series grown by the factor, plus the constants of label_join
// separators and replacements, plus the labels joins copy.
func (b *labelBudget) held() uint64 {
	h := satMul(b.g.Factor, b.bytes)
	h = satAdd(h, satMul(b.series+1, b.g.Const))
	return satAdd(h, satMul(b.g.Joins, satMul(b.series, b.widest)))
}

// add charges one series of n label bytes.
func (b *labelBudget) add(n uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.series++
	b.bytes = satAdd(b.bytes, n)
	b.widest = max(b.widest, n)
	if h := b.held(); h > b.limit {
		return b.err()
	}
	return nil
}

func (b *labelBudget) err() error {
	if b.g.Factor > 1 {
		return fmt.Errorf("%w: %d series of %d label bytes, which label_join/label_replace can multiply %s times, "+
			"would hold more than %s of labels (query.max_label_bytes)", ErrTooLarge, b.series, b.bytes, count(b.g.Factor), mib(b.limit))
	}
	return fmt.Errorf("%w: %d series of %d label bytes would hold more than %s of labels (query.max_label_bytes): "+
		"narrow the selectors or the time range", ErrTooLarge, b.series, b.bytes, mib(b.limit))
}

func mib(n uint64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func count(n uint64) string {
	if n == ^uint64(0) {
		return "more than 2^64"
	}
	return fmt.Sprint(n)
}

// budgetQueryable gives the engine a querier whose series are charged to b.
type budgetQueryable struct {
	storage.Queryable
	b *labelBudget
}

func (q budgetQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	inner, err := q.Queryable.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return budgetQuerier{Querier: inner, b: q.b}, nil
}

type budgetQuerier struct {
	storage.Querier
	b *labelBudget
}

func (q budgetQuerier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return &budgetSet{SeriesSet: q.Querier.Select(ctx, sortSeries, hints, ms...), b: q.b}
}

// budgetSet stops at the first series over the budget, with its error.
type budgetSet struct {
	storage.SeriesSet
	b   *labelBudget
	err error
}

func (s *budgetSet) Next() bool {
	if s.err != nil || !s.SeriesSet.Next() {
		return false
	}
	if err := s.b.add(s.SeriesSet.At().Labels().ByteSize()); err != nil {
		s.err = err
		return false
	}
	return true
}

func (s *budgetSet) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.SeriesSet.Err()
}
