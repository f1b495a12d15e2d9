package queue

// The read cursor: where delivery resumes, persisted in place.

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The cursor file has a fixed size and is overwritten in place, so that
// committing needs no new disk blocks: delivery must go on when the disk
// is full. Its checksum catches a torn write; then delivery restarts at the
// oldest record, and the collector stores repeated samples once.
const cursorSize = 40

func (q *Queue) readCursor() Position {
	b, err := os.ReadFile(filepath.Join(q.opts.Dir, "cursor"))
	if err != nil {
		return Position{}
	}
	var p Position
	var sum uint32
	if _, err := fmt.Sscanf(string(b), "%d %d %d", &p.Segment, &p.Offset, &sum); err != nil || sum != cursorSum(p) {
		q.opts.Logger.Warn("queue: unreadable cursor, starting from the oldest record")
		return Position{}
	}
	return p
}

func cursorSum(p Position) uint32 {
	return crc32.Checksum(fmt.Appendf(nil, "%d %d", p.Segment, p.Offset), crcTable)
}

// writeCursor persists q.cursor. Called with q.mu held.
func (q *Queue) writeCursor() error {
	if q.cursorFile == nil {
		f, err := os.OpenFile(filepath.Join(q.opts.Dir, "cursor"), os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("queue: open cursor: %w", err)
		}
		q.cursorFile = f
	}
	line := fmt.Appendf(nil, "%d %d %d", q.cursor.Segment, q.cursor.Offset, cursorSum(q.cursor))
	buf := make([]byte, cursorSize)
	for i := range buf {
		buf[i] = ' '
	}
	copy(buf, line)
	buf[cursorSize-1] = '\n'
	if _, err := q.cursorFile.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	if err := q.cursorFile.Sync(); err != nil {
		return fmt.Errorf("queue: sync cursor: %w", err)
	}
	return nil
}

// Commit moves the cursor past b, persists it, and removes segments that
// are fully delivered.
func (q *Queue) Commit(b *Batch) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if b.next.Segment < q.cursor.Segment || b.next.Segment == q.cursor.Segment && b.next.Offset <= q.cursor.Offset {
		return nil
	}
	if b.start == q.cursor {
		q.pending -= b.consumed
	} else {
		// Segments were dropped as full while the batch was in flight.
		q.pending = max(q.pending-b.consumed, 0)
	}
	q.cursor = b.next
	if err := q.writeCursor(); err != nil {
		return err
	}
	for len(q.segs) > 1 && q.segs[0].id < q.cursor.Segment {
		if err := os.Remove(segName(q.opts.Dir, q.segs[0].id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("queue: remove delivered segment: %w", err)
		}
		q.segs = q.segs[1:]
	}
	q.updateBytes()
	return nil
}
