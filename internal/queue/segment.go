package queue

// Segments: numbered files of records, the last one being written; the
// oldest go first when the queue passes its bound.

import (
	"fmt"
	"os"
	"path/filepath"
)

type segment struct {
	id      int
	size    int64
	samples int
}

func segName(dir string, id int) string { return filepath.Join(dir, fmt.Sprintf("%08d.seg", id)) }

func (q *Queue) newSegment(id int) error {
	f, err := os.OpenFile(segName(q.opts.Dir, id), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("queue: new segment: %w", err)
	}
	if q.w != nil {
		if err := q.w.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("queue: sync segment: %w", err)
		}
		q.w.Close()
	}
	q.w = f
	q.segs = append(q.segs, &segment{id: id})
	return syncDir(q.opts.Dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// enforceMaxBytes drops the oldest whole segments while over the bound.
// Each cursor still in a dropped segment loses what it had not delivered
// (counted for it) and moves to the next segment; cursors past it lose
// nothing, so a reader far behind never holds back the others. Called
// with q.mu held.
func (q *Queue) enforceMaxBytes() {
	for q.total() > q.opts.MaxBytes && len(q.segs) > 1 {
		old := q.segs[0]
		if err := os.Remove(segName(q.opts.Dir, old.id)); err != nil {
			q.opts.Logger.Error("queue: remove segment", "segment", old.id, "err", err)
			return
		}
		q.segs = q.segs[1:]
		for _, c := range q.cursors {
			if c.pos.Segment > old.id {
				continue
			}
			undelivered := old.samples
			if c.pos.Segment == old.id {
				undelivered = c.pending - q.pendingAfter(old.id)
			}
			c.pending -= undelivered
			c.pos = Position{Segment: q.segs[0].id}
			if undelivered > 0 {
				q.metrics.dropped.WithLabelValues("full").Add(float64(undelivered))
				q.metrics.cursorDropped.WithLabelValues(c.name, "full").Add(float64(undelivered))
				q.opts.Logger.Warn("queue full: dropped the oldest segment", q.opts.CursorLabel, c.name, "samples", undelivered, "max_bytes", q.opts.MaxBytes)
			}
		}
	}
}

// pendingAfter counts the samples of segments after id. Called with q.mu held.
func (q *Queue) pendingAfter(id int) int {
	n := 0
	for _, s := range q.segs {
		if s.id > id {
			n += s.samples
		}
	}
	return n
}

func (q *Queue) total() int64 {
	var n int64
	for _, s := range q.segs {
		n += s.size
	}
	return n
}

func (q *Queue) updateBytes() { q.metrics.bytes.Set(float64(q.total())) }
