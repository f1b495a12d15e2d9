package queue

// Opening after a crash: find the segments, cut a torn tail, restore the cursors.

import (
	"fmt"
	"os"
	"path/filepath"
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
	// Each cursor from its file; a new one from the unnamed cursor's (an
	// upgrade from one reader), else from the oldest record.
	legacy, hasLegacy := Position{}, false
	if q.Cursor("") == nil {
		legacy, hasLegacy = q.readCursor(legacyCursor)
	}
	lastID := 0
	if len(q.segs) > 0 {
		lastID = q.segs[len(q.segs)-1].id
	}
	furthest := 0
	for _, c := range q.cursors {
		pos, ok := q.readCursor(cursorFile(c.name))
		if !ok && hasLegacy {
			pos = legacy
			q.opts.Logger.Info("queue: new cursor starts where the unnamed one was", "cursor", c.name)
		}
		c.pos = pos
		furthest = max(furthest, pos.Segment)
	}
	if len(q.segs) == 0 || furthest > lastID {
		if err := q.newSegment(max(furthest, 1)); err != nil {
			return err
		}
		for _, c := range q.cursors {
			if c.pos.Segment > lastID {
				c.pos = Position{Segment: q.segs[len(q.segs)-1].id}
			}
		}
	} else {
		f, err := os.OpenFile(segName(q.opts.Dir, lastID), os.O_WRONLY|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
		q.w = f
	}
	for _, c := range q.cursors {
		if c.pos.Segment < q.segs[0].id {
			c.pos = Position{Segment: q.segs[0].id}
		}
		for _, s := range q.segs {
			if s.id >= c.pos.Segment {
				c.pending += s.samples
			}
		}
		if c.pos.Offset > 0 {
			data, err := readFrom(segName(q.opts.Dir, c.pos.Segment), 0, nil)
			if err == nil && int64(len(data)) >= c.pos.Offset {
				_, before, _ := scanBytes(data[:c.pos.Offset])
				c.pending -= before
			}
		}
		if err := c.write(); err != nil {
			return err
		}
	}
	if err := syncDir(q.opts.Dir); err != nil {
		return fmt.Errorf("queue: sync dir: %w", err)
	}
	// Only now that every listed cursor is on disk: the files of cursors
	// no longer listed (a collector removed from the configuration) go.
	for _, e := range entries {
		name := e.Name()
		if name != legacyCursor && !strings.HasPrefix(name, legacyCursor+"-") || q.listed(name) {
			continue
		}
		if err := os.Remove(filepath.Join(q.opts.Dir, name)); err != nil {
			return fmt.Errorf("queue: remove the cursor of a removed reader: %w", err)
		}
		q.opts.Logger.Info("queue: removed the cursor of a reader no longer configured", "file", name)
	}
	if err := q.removeDelivered(); err != nil {
		return err
	}
	q.updateBytes()
	return nil
}

// listed reports whether file is the cursor file of a listed cursor.
func (q *Queue) listed(file string) bool {
	for _, c := range q.cursors {
		if cursorFile(c.name) == file {
			return true
		}
	}
	return false
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
