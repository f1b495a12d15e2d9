package query

import (
	"math"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// A query's label bytes can grow past what it loads: label_join and
// label_replace build new label values from old ones, so nesting them
// multiplies a series' label bytes at every level (issue 19: a 1.8 KB
// query over 1,000 series reached 6 GiB). The engine has no byte limit and
// builds those values before anything could look at them, so the growth is
// bounded from the expression before evaluation: growth walks the parsed
// query and says, for the worst node of it, how large a series' labels
// can become relative to the labels of the series it was built from.

// labelBound bounds a label value: at most a times the label bytes of the
// series it came from, plus c bytes.
type labelBound struct{ a, c uint64 }

// unchanged is the bound of a label read from storage.
var unchanged = labelBound{a: 1}

func (b labelBound) plus(o labelBound) labelBound {
	return labelBound{satAdd(b.a, o.a), satAdd(b.c, o.c)}
}

func (b labelBound) max(o labelBound) labelBound {
	return labelBound{max(b.a, o.a), max(b.c, o.c)}
}

// labelGrowth is what growth found.
type labelGrowth struct {
	// Factor and Const bound the label bytes of any series the query
	// holds, at any node: Factor times the bytes of the series loaded
	// from storage, plus Const.
	Factor, Const uint64
	// Joins counts the group_left/group_right modifiers that copy labels
	// from the other side: each can add up to one whole series' labels.
	Joins uint64
	// literals is the query's length: labels absent() builds from
	// matchers are literals of the query.
	literals uint64
}

// growth analyses expr, a parsed query of queryLen bytes.
func growth(expr parser.Expr, queryLen int) labelGrowth {
	g := labelGrowth{Factor: 1, Const: uint64(queryLen), literals: uint64(queryLen)}
	g.walk(expr, 1)
	return g
}

// walk returns the labels set at expr that differ from storage's, and
// records the worst node in g.
func (g *labelGrowth) walk(expr parser.Expr, depth int) map[string]labelBound {
	var set map[string]labelBound
	switch e := expr.(type) {
	case *parser.Call:
		switch e.Func.Name {
		case "label_join":
			set = g.labelJoin(e, depth)
		case "label_replace":
			set = g.labelReplace(e, depth)
		default:
			for _, arg := range e.Args {
				set = merge(set, g.walk(arg, depth+1))
			}
		}
	case *parser.AggregateExpr:
		set = g.walk(e.Expr, depth+1)
		if e.Param != nil {
			g.walk(e.Param, depth+1)
		}
		if e.Op == parser.COUNT_VALUES {
			if name, ok := literal(e.Param); ok {
				// The value formatted: a float, or a histogram's buckets.
				set = with(set, name, labelBound{c: 1 << 10})
			}
		}
	case *parser.BinaryExpr:
		set = merge(g.walk(e.LHS, depth+1), g.walk(e.RHS, depth+1))
		if e.VectorMatching != nil && len(e.VectorMatching.Include) > 0 {
			g.Joins = satAdd(g.Joins, 1)
		}
	case *parser.ParenExpr:
		set = g.walk(e.Expr, depth+1)
	case *parser.UnaryExpr:
		set = g.walk(e.Expr, depth+1)
	case *parser.SubqueryExpr:
		set = g.walk(e.Expr, depth+1)
	case *parser.MatrixSelector:
		set = g.walk(e.VectorSelector, depth+1)
	case *parser.StepInvariantExpr:
		set = g.walk(e.Expr, depth+1)
	}
	factor, c := uint64(1), uint64(0)
	for _, b := range set {
		factor, c = satAdd(factor, b.a), satAdd(c, b.c)
	}
	g.Factor = max(g.Factor, factor)
	g.Const = max(g.Const, satAdd(c, g.literals))
	return set
}

// labelJoin: the destination is every source joined by the separator.
func (g *labelGrowth) labelJoin(e *parser.Call, depth int) map[string]labelBound {
	set := g.walk(e.Args[0], depth+1)
	dst, _ := literal(e.Args[1])
	sep, _ := literal(e.Args[2])
	var b labelBound
	for _, arg := range e.Args[3:] {
		src, _ := literal(arg)
		b = b.plus(get(set, src))
	}
	if n := uint64(len(e.Args) - 3); n > 1 {
		b.c = satAdd(b.c, satMul(n-1, uint64(len(sep))))
	}
	return with(set, dst, b)
}

// labelReplace: the destination is the replacement with each $reference
// expanded to (at most) the whole source value; series the regular
// expression does not match keep their destination.
func (g *labelGrowth) labelReplace(e *parser.Call, depth int) map[string]labelBound {
	set := g.walk(e.Args[0], depth+1)
	dst, _ := literal(e.Args[1])
	repl, _ := literal(e.Args[2])
	src, _ := literal(e.Args[3])
	refs := uint64(strings.Count(repl, "$"))
	s := get(set, src)
	b := labelBound{satMul(refs, s.a), satAdd(satMul(refs, s.c), uint64(len(repl)))}
	return with(set, dst, b.max(get(set, dst)))
}

// literal returns the value of a string literal argument.
func literal(e parser.Expr) (string, bool) {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	s, ok := e.(*parser.StringLiteral)
	if !ok {
		return "", false
	}
	return s.Val, true
}

func get(set map[string]labelBound, name string) labelBound {
	if b, ok := set[name]; ok {
		return b
	}
	return unchanged
}

// with returns set with name bounded by b; set is not changed (the
// branches of a binary expression share nothing).
func with(set map[string]labelBound, name string, b labelBound) map[string]labelBound {
	out := make(map[string]labelBound, len(set)+1)
	for k, v := range set {
		out[k] = v
	}
	out[name] = b
	return out
}

// merge bounds a label by the larger of two branches.
func merge(a, b map[string]labelBound) map[string]labelBound {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make(map[string]labelBound, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = get(out, k).max(v)
	}
	return out
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}
