package wire

import (
	"fmt"

	"github.com/golang/snappy"
)

// Compress returns the snappy block encoding of the protobuf of r,
// the body of a remote-write 1.0 request. buf is reused when large enough.
func Compress(buf []byte, r *WriteRequest) []byte {
	pb := AppendRequest(nil, r)
	return snappy.Encode(buf[:cap(buf)], pb)
}

// DecodeBody decompresses a snappy block body into scratch (reused when
// large enough), refusing bodies that would decompress past maxDecoded
// bytes, and decodes it into r within lim. It returns the scratch buffer
// for reuse. Label strings in r alias that buffer (see DecodeNoCopy): copy
// what must outlive its next use.
func DecodeBody(body, scratch []byte, maxDecoded int, lim Limits, r *WriteRequest) ([]byte, error) {
	n, err := DecodedLen(body)
	if err != nil {
		return scratch, err
	}
	if n > maxDecoded {
		return scratch, fmt.Errorf("snappy: decoded size %d exceeds limit %d", n, maxDecoded)
	}
	if cap(scratch) < n {
		scratch = make([]byte, n)
	}
	pb, err := snappy.Decode(scratch[:cap(scratch)], body)
	if err != nil {
		return scratch, fmt.Errorf("snappy: %w", err)
	}
	if err := DecodeLimited(pb, r, lim); err != nil {
		return scratch, fmt.Errorf("protobuf: %w", err)
	}
	return scratch, nil
}

// DecodedLen is the size a snappy block body says it decodes to.
func DecodedLen(body []byte) (int, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return 0, fmt.Errorf("snappy: %w", err)
	}
	return n, nil
}
