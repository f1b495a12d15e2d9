package query

import (
	"io"
	"math"
	"runtime"
	"strconv"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// jsonWriter appends JSON without reflection: query results can be large.
// With out set, spill writes what is buffered once it passes spillBytes.
type jsonWriter struct {
	b   []byte
	out io.Writer
	err error
}

const spillBytes = 64 << 10

// spill writes the buffer to out once it is large enough.
func (w *jsonWriter) spill() {
	if w.out != nil && len(w.b) >= spillBytes {
		w.flush()
	}
}

// flush writes the buffer to out; after a failed write (the client went
// away) the rest is dropped.
func (w *jsonWriter) flush() {
	if w.err == nil {
		_, w.err = w.out.Write(w.b)
	}
	w.b = w.b[:0]
}

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) str(s string) {
	w.b = append(w.b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				w.b = append(w.b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				w.b = append(w.b, `\u00`...)
				w.b = append(w.b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			default:
				w.b = append(w.b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			w.b = append(w.b, `\ufffd`...)
		} else {
			w.b = append(w.b, s[i:i+size]...)
		}
		i += size
	}
	w.b = append(w.b, '"')
}

func (w *jsonWriter) labels(l labels.Labels) {
	w.b = append(w.b, '{')
	first := true
	l.Range(func(lb labels.Label) {
		if !first {
			w.b = append(w.b, ',')
		}
		first = false
		w.str(lb.Name)
		w.b = append(w.b, ':')
		w.str(lb.Value)
	})
	w.b = append(w.b, '}')
}

// point writes [<unix seconds>,"<value>"] as Prometheus does.
func (w *jsonWriter) point(t int64, v float64) {
	w.b = append(w.b, '[')
	w.b = strconv.AppendFloat(w.b, float64(t)/1000, 'f', -1, 64)
	w.b = append(w.b, ',', '"')
	switch {
	case math.IsNaN(v):
		w.b = append(w.b, "NaN"...)
	case math.IsInf(v, 1):
		w.b = append(w.b, "+Inf"...)
	case math.IsInf(v, -1):
		w.b = append(w.b, "-Inf"...)
	default:
		w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64)
	}
	w.b = append(w.b, '"', ']')
}

func writeValue(w *jsonWriter, v parser.Value) {
	switch v := v.(type) {
	case promql.Vector:
		w.raw(`{"resultType":"vector","result":[`)
		for i, s := range v {
			if i > 0 {
				w.raw(",")
			}
			w.raw(`{"metric":`)
			w.labels(s.Metric)
			w.raw(`,"value":`)
			w.point(s.T, s.F)
			w.raw("}")
			w.spill()
		}
		w.raw("]}")
	case promql.Matrix:
		w.raw(`{"resultType":"matrix","result":[`)
		for i, s := range v {
			if i > 0 {
				w.raw(",")
			}
			w.raw(`{"metric":`)
			w.labels(s.Metric)
			w.raw(`,"values":[`)
			for j, p := range s.Floats {
				if j > 0 {
					w.raw(",")
				}
				w.point(p.T, p.F)
				w.spill()
			}
			w.raw("]}")
		}
		w.raw("]}")
	case promql.Scalar:
		w.raw(`{"resultType":"scalar","result":`)
		w.point(v.T, v.V)
		w.raw("}")
	case promql.String:
		w.raw(`{"resultType":"string","result":[`)
		w.b = strconv.AppendFloat(w.b, float64(v.T)/1000, 'f', -1, 64)
		w.raw(",")
		w.str(v.V)
		w.raw("]}")
	default:
		w.raw("null")
	}
}

func goVersion() string { return runtime.Version() }
