// Package wire encodes and decodes Prometheus remote-write 1.0 requests
// (prometheus.WriteRequest protobuf, snappy block compressed) without code
// generation, so the agent stays small and the collector decodes without
// allocating per label.
package wire

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// Label is one name/value pair of a series.
type Label struct {
	Name, Value string
}

// Sample is one value at a millisecond timestamp.
type Sample struct {
	Value     float64
	Timestamp int64
}

// Series is one time series of a write request.
type Series struct {
	Labels  []Label
	Samples []Sample
	// DroppedLabels counts labels past Limits.MaxLabelsPerSeries: they were
	// not kept, and the series should be refused.
	DroppedLabels int
}

// Limits bound a decoded request while it is decoded, so a small body of
// empty entries cannot grow into gigabytes of structures. Zero means no limit.
type Limits struct {
	MaxSeries          int // series in the request: more is an error
	MaxSamples         int // samples in the request: more is an error
	MaxLabelsPerSeries int // labels kept per series: more are counted in DroppedLabels
}

// ErrLimit is wrapped when a request exceeds its Limits.
var ErrLimit = errors.New("limit exceeded")

// WriteRequest is the decoded body of a remote-write request. Only series
// and their samples are kept; metadata, exemplars and histograms are skipped.
type WriteRequest struct {
	Series []Series
}

// Reset empties r while keeping its allocated slices for reuse.
func (r *WriteRequest) Reset() {
	for i := range r.Series {
		r.Series[i].Labels = r.Series[i].Labels[:0]
		r.Series[i].Samples = r.Series[i].Samples[:0]
		r.Series[i].DroppedLabels = 0
	}
	r.Series = r.Series[:0]
}

// Samples counts the samples of all series.
func (r *WriteRequest) Samples() int {
	n := 0
	for _, s := range r.Series {
		n += len(s.Samples)
	}
	return n
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed protobuf")

const (
	wireVarint = 0
	wire64bit  = 1
	wireBytes  = 2
	wire32bit  = 5
)

// AppendRequest appends the protobuf encoding of r to dst.
func AppendRequest(dst []byte, r *WriteRequest) []byte {
	for i := range r.Series {
		dst = appendTag(dst, 1, wireBytes)
		dst = appendVarint(dst, uint64(seriesSize(&r.Series[i])))
		dst = appendSeries(dst, &r.Series[i])
	}
	return dst
}

func seriesSize(s *Series) int {
	n := 0
	for _, l := range s.Labels {
		ls := labelSize(l)
		n += 1 + varintSize(uint64(ls)) + ls
	}
	for _, smp := range s.Samples {
		ss := sampleSize(smp)
		n += 1 + varintSize(uint64(ss)) + ss
	}
	return n
}

func labelSize(l Label) int {
	return 1 + varintSize(uint64(len(l.Name))) + len(l.Name) + 1 + varintSize(uint64(len(l.Value))) + len(l.Value)
}

func sampleSize(s Sample) int {
	n := 1 + 8
	if s.Timestamp != 0 {
		n += 1 + varintSize(uint64(s.Timestamp))
	}
	return n
}

func appendSeries(dst []byte, s *Series) []byte {
	for _, l := range s.Labels {
		dst = appendTag(dst, 1, wireBytes)
		dst = appendVarint(dst, uint64(labelSize(l)))
		dst = appendString(dst, 1, l.Name)
		dst = appendString(dst, 2, l.Value)
	}
	for _, smp := range s.Samples {
		dst = appendTag(dst, 2, wireBytes)
		dst = appendVarint(dst, uint64(sampleSize(smp)))
		dst = appendTag(dst, 1, wire64bit)
		bits := math.Float64bits(smp.Value)
		dst = append(dst, byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24),
			byte(bits>>32), byte(bits>>40), byte(bits>>48), byte(bits>>56))
		if smp.Timestamp != 0 {
			dst = appendTag(dst, 2, wireVarint)
			dst = appendVarint(dst, uint64(smp.Timestamp))
		}
	}
	return dst
}

func appendString(dst []byte, field int, s string) []byte {
	dst = appendTag(dst, field, wireBytes)
	dst = appendVarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendTag(dst []byte, field, typ int) []byte {
	return appendVarint(dst, uint64(field)<<3|uint64(typ))
}

func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func varintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Decode parses the protobuf body b into r, reusing r's slices. Label
// strings are copied out of b, so b may be reused after Decode returns.
func Decode(b []byte, r *WriteRequest) error {
	return decode(b, r, false, Limits{})
}

// DecodeNoCopy is Decode with label strings that alias b: they are valid
// only while b is neither modified nor reused. It saves two allocations per
// label on the collector's hot path.
func DecodeNoCopy(b []byte, r *WriteRequest) error {
	return decode(b, r, true, Limits{})
}

// DecodeLimited is DecodeNoCopy within lim.
func DecodeLimited(b []byte, r *WriteRequest, lim Limits) error {
	return decode(b, r, true, lim)
}

func decode(b []byte, r *WriteRequest, noCopy bool, lim Limits) error {
	r.Reset()
	samples := 0
	for len(b) > 0 {
		field, typ, n, err := readTag(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if field == 1 && typ == wireBytes {
			msg, rest, err := readBytes(b)
			if err != nil {
				return fmt.Errorf("timeseries %d: %w", len(r.Series), err)
			}
			b = rest
			if lim.MaxSeries > 0 && len(r.Series) >= lim.MaxSeries {
				return fmt.Errorf("%w: more than %d series in one request", ErrLimit, lim.MaxSeries)
			}
			if len(r.Series) < cap(r.Series) {
				r.Series = r.Series[:len(r.Series)+1]
			} else {
				r.Series = append(r.Series, Series{})
			}
			s := &r.Series[len(r.Series)-1]
			if err := decodeSeries(msg, s, noCopy, lim, lim.MaxSamples-samples); err != nil {
				return fmt.Errorf("timeseries %d: %w", len(r.Series)-1, err)
			}
			samples += len(s.Samples)
			continue
		}
		if b, err = skip(b, typ); err != nil {
			return err
		}
	}
	return nil
}

// decodeSeries decodes one series; room is how many more samples the
// request may hold (ignored when lim.MaxSamples is 0).
func decodeSeries(b []byte, s *Series, noCopy bool, lim Limits, room int) error {
	for len(b) > 0 {
		field, typ, n, err := readTag(b)
		if err != nil {
			return err
		}
		b = b[n:]
		switch {
		case field == 1 && typ == wireBytes:
			msg, rest, err := readBytes(b)
			if err != nil {
				return err
			}
			b = rest
			l, err := decodeLabel(msg, noCopy)
			if err != nil {
				return fmt.Errorf("label %d: %w", len(s.Labels), err)
			}
			if lim.MaxLabelsPerSeries > 0 && len(s.Labels) >= lim.MaxLabelsPerSeries {
				s.DroppedLabels++
				continue
			}
			s.Labels = append(s.Labels, l)
		case field == 2 && typ == wireBytes:
			msg, rest, err := readBytes(b)
			if err != nil {
				return err
			}
			b = rest
			smp, err := decodeSample(msg)
			if err != nil {
				return fmt.Errorf("sample %d: %w", len(s.Samples), err)
			}
			if lim.MaxSamples > 0 && len(s.Samples) >= room {
				return fmt.Errorf("%w: more than %d samples in one request", ErrLimit, lim.MaxSamples)
			}
			s.Samples = append(s.Samples, smp)
		default:
			if b, err = skip(b, typ); err != nil {
				return err
			}
		}
	}
	return nil
}

func decodeLabel(b []byte, noCopy bool) (Label, error) {
	var l Label
	for len(b) > 0 {
		field, typ, n, err := readTag(b)
		if err != nil {
			return l, err
		}
		b = b[n:]
		if typ == wireBytes && (field == 1 || field == 2) {
			v, rest, err := readBytes(b)
			if err != nil {
				return l, err
			}
			b = rest
			str := ""
			switch {
			case len(v) == 0:
			case noCopy:
				str = unsafe.String(&v[0], len(v))
			default:
				str = string(v)
			}
			if field == 1 {
				l.Name = str
			} else {
				l.Value = str
			}
			continue
		}
		if b, err = skip(b, typ); err != nil {
			return l, err
		}
	}
	return l, nil
}

func decodeSample(b []byte) (Sample, error) {
	var s Sample
	for len(b) > 0 {
		field, typ, n, err := readTag(b)
		if err != nil {
			return s, err
		}
		b = b[n:]
		switch {
		case field == 1 && typ == wire64bit:
			if len(b) < 8 {
				return s, fmt.Errorf("%w: truncated double", ErrMalformed)
			}
			bits := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
				uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
			s.Value = math.Float64frombits(bits)
			b = b[8:]
		case field == 2 && typ == wireVarint:
			v, n := readVarint(b)
			if n <= 0 {
				return s, fmt.Errorf("%w: bad timestamp varint", ErrMalformed)
			}
			s.Timestamp = int64(v)
			b = b[n:]
		default:
			if b, err = skip(b, typ); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

func readTag(b []byte) (field, typ, n int, err error) {
	v, n := readVarint(b)
	if n <= 0 {
		return 0, 0, 0, fmt.Errorf("%w: bad tag varint", ErrMalformed)
	}
	if v>>3 == 0 || v>>3 > math.MaxInt32 {
		return 0, 0, 0, fmt.Errorf("%w: invalid field number %d", ErrMalformed, v>>3)
	}
	return int(v >> 3), int(v & 7), n, nil
}

func readVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func readBytes(b []byte) (msg, rest []byte, err error) {
	l, n := readVarint(b)
	if n <= 0 {
		return nil, nil, fmt.Errorf("%w: bad length varint", ErrMalformed)
	}
	b = b[n:]
	if l > uint64(len(b)) {
		return nil, nil, fmt.Errorf("%w: length %d exceeds remaining %d bytes", ErrMalformed, l, len(b))
	}
	return b[:l], b[l:], nil
}

func skip(b []byte, typ int) ([]byte, error) {
	switch typ {
	case wireVarint:
		_, n := readVarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad varint", ErrMalformed)
		}
		return b[n:], nil
	case wire64bit:
		if len(b) < 8 {
			return nil, fmt.Errorf("%w: truncated fixed64", ErrMalformed)
		}
		return b[8:], nil
	case wireBytes:
		_, rest, err := readBytes(b)
		return rest, err
	case wire32bit:
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: truncated fixed32", ErrMalformed)
		}
		return b[4:], nil
	}
	return nil, fmt.Errorf("%w: unsupported wire type %d", ErrMalformed, typ)
}
