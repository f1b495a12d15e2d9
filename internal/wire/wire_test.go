package wire

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

func sampleRequest() *WriteRequest {
	return &WriteRequest{Series: []Series{
		{
			Labels:  []Label{{"__name__", "probe_success"}, {"sector", "energy"}, {"target", "grid-portal"}},
			Samples: []Sample{{Value: 1, Timestamp: 1700000000000}, {Value: 0, Timestamp: 1700000030000}},
		},
		{
			Labels:  []Label{{"__name__", "probe_duration_seconds"}, {"phase", "connect"}},
			Samples: []Sample{{Value: math.Inf(1), Timestamp: 0}, {Value: 0.25, Timestamp: -5}},
		},
	}}
}

// The encoder must produce what Prometheus's own generated code reads, and
// the decoder must read what Prometheus's code writes.
func TestCompatibleWithPrompb(t *testing.T) {
	req := sampleRequest()
	var pb prompb.WriteRequest
	if err := pb.Unmarshal(AppendRequest(nil, req)); err != nil {
		t.Fatalf("prompb cannot read our encoding: %v", err)
	}
	if len(pb.Timeseries) != 2 || pb.Timeseries[0].Labels[2].Value != "grid-portal" ||
		pb.Timeseries[0].Samples[1].Timestamp != 1700000030000 || pb.Timeseries[1].Samples[1].Value != 0.25 {
		t.Fatalf("prompb decoded %+v", pb.Timeseries)
	}
	pb.Metadata = []prompb.MetricMetadata{{MetricFamilyName: "x", Help: "skipped"}}
	raw, err := pb.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var got WriteRequest
	if err := Decode(raw, &got); err != nil {
		t.Fatalf("decode prompb encoding: %v", err)
	}
	if len(got.Series) != 2 || got.Series[1].Labels[1] != (Label{"phase", "connect"}) ||
		!math.IsInf(got.Series[1].Samples[0].Value, 1) || got.Series[1].Samples[1].Timestamp != -5 {
		t.Fatalf("decoded %+v", got.Series)
	}
	if got.Samples() != 4 {
		t.Fatalf("Samples() = %d, want 4", got.Samples())
	}
}

func TestDecodeBodyLimits(t *testing.T) {
	body := Compress(nil, sampleRequest())
	var r WriteRequest
	if _, err := DecodeBody(body, nil, 10, Limits{}, &r); err == nil {
		t.Fatal("want error for decoded size over limit")
	}
	if _, err := DecodeBody([]byte("not snappy at all"), nil, 1<<20, Limits{}, &r); err == nil {
		t.Fatal("want snappy error")
	}
	if _, err := DecodeBody(snappy.Encode(nil, []byte{0x0a, 0xff}), nil, 1<<20, Limits{}, &r); err == nil {
		t.Fatal("want protobuf error for truncated message")
	}
	if _, err := DecodeBody(body, nil, 1<<20, Limits{}, &r); err != nil || len(r.Series) != 2 {
		t.Fatalf("DecodeBody = %v, %d series", err, len(r.Series))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(AppendRequest(nil, sampleRequest()))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r WriteRequest
		if err := Decode(b, &r); err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged.
		var again WriteRequest
		if err := Decode(AppendRequest(nil, &r), &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(again.Series) != len(r.Series) || again.Samples() != r.Samples() {
			t.Fatalf("round trip changed the request")
		}
		// Within limits, what is kept never exceeds them.
		lim := Limits{MaxSeries: 3, MaxSamples: 5, MaxLabelsPerSeries: 2}
		var bounded WriteRequest
		if err := DecodeLimited(b, &bounded, lim); err != nil {
			if !errors.Is(err, ErrLimit) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("limited decode: %v", err)
			}
			return
		}
		if len(bounded.Series) > 3 || bounded.Samples() > 5 {
			t.Fatalf("limits exceeded: %d series, %d samples", len(bounded.Series), bounded.Samples())
		}
		for _, s := range bounded.Series {
			if len(s.Labels) > 2 {
				t.Fatalf("%d labels kept", len(s.Labels))
			}
		}
	})
}

// Issue 8: 3 MB of empty series decoded to gigabytes of structures before
// any limit was checked; the limits now stop the decoder itself.
func TestDecodeLimitedStopsEarly(t *testing.T) {
	var r WriteRequest
	err := DecodeLimited(bytes.Repeat([]byte{0x0a, 0x00}, 1<<20), &r, Limits{MaxSeries: 10})
	if !errors.Is(err, ErrLimit) || cap(r.Series) > 64 {
		t.Fatalf("err %v, %d series allocated", err, cap(r.Series))
	}
	labels := bytes.Repeat([]byte{0x0a, 0x00}, 1000)
	one := append([]byte{0x0a, 0xd0, 0x0f}, labels...) // one series of 1000 empty labels (2000 bytes)
	if err := DecodeLimited(one, &r, Limits{MaxLabelsPerSeries: 4}); err != nil || len(r.Series[0].Labels) != 4 || r.Series[0].DroppedLabels != 996 {
		t.Fatalf("err %v, %d labels kept, %d dropped", err, len(r.Series[0].Labels), r.Series[0].DroppedLabels)
	}
}

func BenchmarkDecode(b *testing.B) {
	req := &WriteRequest{}
	for i := range 2000 {
		req.Series = append(req.Series, Series{
			Labels: []Label{{"__name__", "probe_success"}, {"agent", "a1"}, {"check", "http"},
				{"sector", "energy"}, {"target", "t" + string(rune('a'+i%26))}, {"vantage", "home"}, {"x", "y"}},
			Samples: []Sample{{Value: 1, Timestamp: int64(i)}},
		})
	}
	raw := AppendRequest(nil, req)
	var r WriteRequest
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Decode(raw, &r); err != nil {
			b.Fatal(err)
		}
	}
}
