package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

func TestGrowth(t *testing.T) {
	cases := []struct {
		q              string
		factor, consts uint64
		joins          uint64
	}{
		{`up`, 1, 0, 0},
		{`sum by (job) (rate(up[5m])) / on(job) group_left(team) team_info`, 1, 0, 1},
		{`label_join(up, "x", "-", "job", "instance")`, 3, 1, 0},
		{`label_replace(up, "host", "$1", "instance", "(.*):.*")`, 2, 2, 0},
		{`label_join(label_join(up, "a", "", "a", "a"), "a", "", "a", "a")`, 5, 0, 0},
		// The outer label_join shrinks a again, but the inner one held it grown.
		{`label_join(label_join(up, "a", "", "a", "a", "a"), "a", "", "job")`, 4, 0, 0},
		{`count_values("v", up)`, 1, 1024, 0},
	}
	p := parser.NewParser(parser.Options{})
	for _, c := range cases {
		expr, err := p.ParseExpr(c.q)
		if err != nil {
			t.Fatal(err)
		}
		g := growth(expr, len(c.q))
		if g.Factor != c.factor || g.Const != uint64(len(c.q))+c.consts || g.Joins != c.joins {
			t.Errorf("%s: factor %d, const %d, joins %d; want %d, %d, %d", c.q, g.Factor, g.Const-uint64(len(c.q)), g.Joins, c.factor, c.consts, c.joins)
		}
	}
	expr, _ := p.ParseExpr(nestedLabelJoin("m", 38))
	if g := growth(expr, 0); g.Factor != ^uint64(0) {
		t.Errorf("issue 19's query: factor %d, want saturated", g.Factor)
	}
}

// randomExpr builds a query of label_join, label_replace, aggregations and
// joins over m, depth levels deep.
func randomExpr(r *rand.Rand, depth int) string {
	if depth == 0 {
		return "m"
	}
	names := []string{"a", "b", "instance", "big", "__name__"}
	pick := func() string { return names[r.IntN(len(names))] }
	inner := randomExpr(r, depth-1)
	switch r.IntN(5) {
	case 0, 1:
		srcs := ""
		for range r.IntN(5) {
			srcs += `,"` + pick() + `"`
		}
		seps := []string{"", "-", "--::--"}
		return fmt.Sprintf(`label_join(%s,"%s","%s"%s)`, inner, names[r.IntN(2)], seps[r.IntN(3)], srcs)
	case 2:
		repls := []string{"$1", "$1$1", "x${1}y$1", "", "$0$0$0$0$0$0"}
		regexes := []string{"(.*)", "0(.*)", "(.)"}
		return fmt.Sprintf(`label_replace(%s,"%s","%s","%s","%s")`, inner, names[r.IntN(2)], repls[r.IntN(5)], pick(), regexes[r.IntN(3)])
	case 3:
		return fmt.Sprintf(`max by (instance, a) (%s)`, inner)
	default:
		return fmt.Sprintf(`%s * on(instance) group_left(a, b) max by (instance, a, b) (%s)`, inner, randomExpr(r, depth-1))
	}
}

// The growth bound holds: for random queries, the label bytes of the
// result never exceed what the budget said the query could hold.
func TestGrowthBoundHolds(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	db := openFat(t, "m", 5, 400) // labels long against the query's literals
	api, err := New(Options{Queryable: db})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	fixed := []string{`label_replace(m,"a","$0$0$0$0$0$0","big","(.*)")`, `label_join(m,"a","--::--","big","big","instance")`}
	for i := range 300 {
		q := randomExpr(r, 1+r.IntN(4))
		if i < len(fixed) {
			q = fixed[i]
		}
		expr, err := api.parser.ParseExpr(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		b := &labelBudget{limit: ^uint64(0), g: growth(expr, len(q))}
		qry, err := api.engine.NewInstantQuery(context.Background(), budgetQueryable{Queryable: db, b: b}, nil, q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		res := qry.Exec(context.Background())
		if res.Err != nil { // duplicate series after a join, and such
			qry.Close()
			continue
		}
		var held uint64
		for _, s := range res.Value.(promql.Vector) {
			held += s.Metric.ByteSize()
		}
		qry.Close()
		if held > b.held() {
			t.Errorf("%s: the result holds %d label bytes, over the bound of %d", q, held, b.held())
		}
		checked++
	}
	if checked < 100 {
		t.Errorf("only %d of 300 random queries evaluated", checked)
	}
	t.Logf("%d queries checked", checked)
}
