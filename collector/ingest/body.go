package ingest

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// inflightWait is how long a request waits for room in the in-flight
// budget before it is answered 429.
const inflightWait = 5 * time.Second

var (
	errBusy     = errors.New("in-flight budget exhausted")
	errTooLarge = errors.New("body too large")
)

func busy() *refusal {
	return &refusal{code: http.StatusTooManyRequests, reason: "busy", retryAfter: inflightWait,
		msg: "the collector is handling as many bytes as it may hold: retry later"}
}

// budget is what one request holds of the in-flight byte budget.
type budget struct {
	sem  *semaphore.Weighted
	held int64
}

// take grows what is held to total bytes, waiting for room until ctx ends.
func (b *budget) take(ctx context.Context, total int64) error {
	if total <= b.held {
		return nil
	}
	if err := b.sem.Acquire(ctx, total-b.held); err != nil {
		return errBusy
	}
	b.held = total
	return nil
}

func (b *budget) release() {
	if b.held > 0 {
		b.sem.Release(b.held)
		b.held = 0
	}
}

// readBody reads a body of at most limit bytes into buf, taking from bud
// every byte before it is read: the declared length at once, or, when
// none is declared, each growth of the buffer.
func readBody(ctx context.Context, r io.Reader, declared int64, buf []byte, limit int64, bud *budget) ([]byte, error) {
	if declared >= 0 {
		if err := bud.take(ctx, declared); err != nil {
			return buf, err
		}
		if int64(cap(buf)) < declared {
			buf = make([]byte, 0, declared)
		}
		buf = buf[:declared]
		if _, err := io.ReadFull(r, buf); err != nil {
			return buf, err
		}
		return buf, nil
	}
	r = io.LimitReader(r, limit+1)
	for {
		if len(buf) == cap(buf) {
			next := min(max(2*int64(cap(buf)), 64<<10), limit+1)
			if int64(len(buf)) >= next {
				return buf, errTooLarge
			}
			if err := bud.take(ctx, next); err != nil {
				return buf, err
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// protobufType reports whether ct names a remote-write 1.0 body: absent
// (as Prometheus's own receiver takes it), or application/x-protobuf,
// with proto=prometheus.WriteRequest if a proto is named.
func protobufType(ct string) bool {
	if ct == "" || ct == "application/x-protobuf" {
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/x-protobuf" {
		return false
	}
	p, named := params["proto"]
	return !named || p == "prometheus.WriteRequest"
}
