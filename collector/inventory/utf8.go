package inventory

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// errNotUTF8 is the first invalid byte of a file, with its line.
type errNotUTF8 struct{ line int }

func (e *errNotUTF8) Error() string { return fmt.Sprintf("line %d: not UTF-8", e.line) }

// utf8Reader passes its reader's bytes through while checking that they
// are UTF-8, counting lines; the first invalid byte ends the stream with
// *errNotUTF8. A rune split across reads is held back until complete.
type utf8Reader struct {
	r   io.Reader
	buf []byte
	// buf[off:ok] is checked and not yet handed out; buf[ok:n] is the
	// start of a rune not yet complete.
	off, ok, n int
	line       int // newlines before buf[ok]
	err        error
}

func newUTF8Reader(r io.Reader) *utf8Reader { return &utf8Reader{r: r, buf: make([]byte, 64<<10)} }

func (u *utf8Reader) Read(p []byte) (int, error) {
	for u.off == u.ok {
		if u.err != nil {
			return 0, u.err
		}
		u.n = copy(u.buf, u.buf[u.ok:u.n])
		u.off, u.ok = 0, 0
		m, err := u.r.Read(u.buf[u.n:])
		u.n += m
		if err != nil {
			u.err = err
		}
		i := 0
		for i < u.n {
			if c := u.buf[i]; c < utf8.RuneSelf {
				if c == '\n' {
					u.line++
				}
				i++
				continue
			}
			r, size := utf8.DecodeRune(u.buf[i:u.n])
			if r == utf8.RuneError && size == 1 {
				if !utf8.FullRune(u.buf[i:u.n]) && (u.err == nil || u.err != io.EOF) {
					break // the rest comes with the next read, or the read failed
				}
				u.err = &errNotUTF8{line: u.line + 1}
				break
			}
			i += size
		}
		u.ok = i
	}
	k := copy(p, u.buf[u.off:u.ok])
	u.off += k
	return k, nil
}
