package queue

// Opening after a crash: find the segments, cut a torn tail, restore the cursor.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

func (q *Queue) recover() error {
	entries, err := os.ReadDir(q.opts.Dir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		id, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		q.segs = append(q.segs, &segment{id: id})
	}
	slices.SortFunc(q.segs, func(a, b *segment) int { return a.id - b.id })
	for i, s := range q.segs {
		size, samples, err := scan(segName(q.opts.Dir, s.id), i == len(q.segs)-1)
		if err != nil {
			return err
		}
		s.size, s.samples = size, samples
	}
	q.cursor = q.readCursor()
	if len(q.segs) == 0 || q.cursor.Segment > q.segs[len(q.segs)-1].id {
		if err := q.newSegment(max(q.cursor.Segment, 1)); err != nil {
			return err
		}
		q.cursor = Position{Segment: q.segs[len(q.segs)-1].id}
	} else {
		last := q.segs[len(q.segs)-1]
		f, err := os.OpenFile(segName(q.opts.Dir, last.id), os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		q.w = f
	}
	if q.cursor.Segment < q.segs[0].id {
		q.cursor = Position{Segment: q.segs[0].id}
	}
	for _, s := range q.segs {
		if s.id >= q.cursor.Segment {
			q.pending += s.samples
		}
	}
	if q.cursor.Offset > 0 {
		data, err := readFrom(segName(q.opts.Dir, q.cursor.Segment), 0, nil)
		if err == nil && int64(len(data)) >= q.cursor.Offset {
			_, before, _ := scanBytes(data[:q.cursor.Offset])
			q.pending -= before
		}
	}
	q.updateBytes()
	return q.writeCursor()
}

// scan validates a segment, counting its samples. In the last segment a
// torn or corrupt tail is truncated (the crash happened mid-write).
func scan(path string, last bool) (int64, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("queue: %w", err)
	}
	off, samples, _ := scanBytes(b)
	if off < int64(len(b)) && last {
		if err := os.Truncate(path, off); err != nil {
			return 0, 0, fmt.Errorf("queue: truncate torn tail of %s: %w", path, err)
		}
		return off, samples, nil
	}
	return int64(len(b)), samples, nil
}
