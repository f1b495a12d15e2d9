package queue

// Records: [length u32][crc32c u32][created unix ms i64][samples u32][payload],
// the payload a snappy-compressed protobuf WriteRequest.

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

const headerSize = 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// scanBytes walks the valid records at the start of b.
func scanBytes(b []byte) (off int64, samples, records int) {
	for {
		n, rec, err := parseRecord(b[off:])
		if err != nil {
			return off, samples, records
		}
		samples += rec.samples
		records++
		off += n
	}
}

type record struct {
	created time.Time
	samples int
	payload []byte
}

var errTorn = errors.New("torn or corrupt record")

func parseRecord(b []byte) (int64, record, error) {
	if len(b) < headerSize {
		return 0, record{}, errTorn
	}
	l := int64(binary.LittleEndian.Uint32(b[0:]))
	if int64(len(b)) < headerSize+l {
		return 0, record{}, errTorn
	}
	payload := b[headerSize : headerSize+l]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return 0, record{}, errTorn
	}
	return headerSize + l, record{
		created: time.UnixMilli(int64(binary.LittleEndian.Uint64(b[8:]))),
		samples: int(binary.LittleEndian.Uint32(b[16:])),
		payload: payload,
	}, nil
}
