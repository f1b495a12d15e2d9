package queue

// Cursors: where each reader's delivery resumes, persisted in place.

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
)

// Cursor is one reader's position in the queue: its batches are read from
// it and its commits move it alone. Cursors do not wait for one another.
type Cursor struct {
	q        *Queue
	name     string
	notEmpty chan struct{}

	// Guarded by q.mu.
	pos     Position
	pending int // samples after pos
	f       *os.File
}

// Name is the cursor's name ("" for the default one).
func (c *Cursor) Name() string { return c.name }

// NotEmpty is signalled after each Append.
func (c *Cursor) NotEmpty() <-chan struct{} { return c.notEmpty }

// Pending reports the samples after the cursor.
func (c *Cursor) Pending() int {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	return c.pending
}

// LagBytes reports the bytes of the segments from the cursor on.
func (c *Cursor) LagBytes() int64 {
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	var n int64
	for _, s := range c.q.segs {
		if s.id == c.pos.Segment {
			n += max(s.size-c.pos.Offset, 0)
		} else if s.id > c.pos.Segment {
			n += s.size
		}
	}
	return n
}

// Commit moves the cursor past b, persists it, and removes the segments
// every cursor has passed.
func (c *Cursor) Commit(b *Batch) error {
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if b.cursor != nil && b.cursor != c {
		return fmt.Errorf("queue: batch of cursor %q committed to %q", b.cursor.name, c.name)
	}
	if b.next.Segment < c.pos.Segment || b.next.Segment == c.pos.Segment && b.next.Offset <= c.pos.Offset {
		return nil
	}
	if b.start == c.pos {
		c.pending -= b.consumed
	} else {
		// Segments were dropped as full while the batch was in flight.
		c.pending = max(c.pending-b.consumed, 0)
	}
	c.pos = b.next
	if err := c.write(); err != nil {
		return err
	}
	// A corrupt tail of a segment counts 1: its samples cannot be told.
	for reason, n := range map[string]int{"expired": b.expired, "corrupt": b.corrupt + b.corruptTails} {
		if n > 0 {
			q.metrics.dropped.WithLabelValues(reason).Add(float64(n))
			q.metrics.cursorDropped.WithLabelValues(c.name, reason).Add(float64(n))
		}
	}
	if err := q.removeDelivered(); err != nil {
		return err
	}
	q.updateBytes()
	return nil
}

// removeDelivered removes the segments before every cursor. Called with
// q.mu held.
func (q *Queue) removeDelivered() error {
	low := q.cursors[0].pos.Segment
	for _, c := range q.cursors[1:] {
		low = min(low, c.pos.Segment)
	}
	for len(q.segs) > 1 && q.segs[0].id < low {
		if err := os.Remove(segName(q.opts.Dir, q.segs[0].id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("queue: remove delivered segment: %w", err)
		}
		q.segs = q.segs[1:]
	}
	return nil
}

// The cursor file has a fixed size and is overwritten in place, so that
// committing needs no new disk blocks: delivery must go on when the disk
// is full. Its checksum catches a torn write; then delivery restarts at the
// oldest record, and the collector stores repeated samples once.
const cursorSize = 40

// legacyCursor is the file of the unnamed cursor.
const legacyCursor = "cursor"

// cursorFile is the file name of a cursor: "cursor" for the unnamed one,
// else "cursor-" and the name, bytes other than letters, digits, '.', '_'
// and '-' written %XX.
func cursorFile(name string) string {
	if name == "" {
		return legacyCursor
	}
	var b strings.Builder
	b.WriteString(legacyCursor + "-")
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '.' || ch == '_' || ch == '-' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// readCursor reads a cursor file: ok is false when there is none, or it
// is unreadable (then p is the zero Position: the oldest record).
func (q *Queue) readCursor(file string) (p Position, ok bool) {
	b, err := os.ReadFile(filepath.Join(q.opts.Dir, file))
	if err != nil {
		return Position{}, false
	}
	var sum uint32
	if _, err := fmt.Sscanf(string(b), "%d %d %d", &p.Segment, &p.Offset, &sum); err != nil || sum != cursorSum(p) {
		q.opts.Logger.Warn("queue: unreadable cursor, starting from the oldest record", "file", file)
		return Position{}, true
	}
	return p, true
}

func cursorSum(p Position) uint32 {
	return crc32.Checksum(fmt.Appendf(nil, "%d %d", p.Segment, p.Offset), crcTable)
}

// write persists c.pos. Called with q.mu held.
func (c *Cursor) write() error {
	if c.f == nil {
		f, err := os.OpenFile(filepath.Join(c.q.opts.Dir, cursorFile(c.name)), os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("queue: open cursor: %w", err)
		}
		c.f = f
	}
	line := fmt.Appendf(nil, "%d %d %d", c.pos.Segment, c.pos.Offset, cursorSum(c.pos))
	buf := make([]byte, cursorSize)
	for i := range buf {
		buf[i] = ' '
	}
	copy(buf, line)
	buf[cursorSize-1] = '\n'
	if _, err := c.f.WriteAt(buf, 0); err != nil {
		return fmt.Errorf("queue: write cursor: %w", err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("queue: sync cursor: %w", err)
	}
	return nil
}
