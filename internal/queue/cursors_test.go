package queue

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// cursorModel is what one reader has seen, across restarts.
type cursorModel struct {
	birth     int64   // the first sample appended after the cursor was added
	delivered []int64 // committed, in order
	dropped   float64 // counted by the queue as lost for it, all opens summed
}

// The cursors' state machine under random appends, successful and failed
// pushes per cursor, restarts, crashes mid-write and readers added and
// removed. Checked after every step: the disk bound holds and each
// cursor's committed deliveries are in order with no repeat; at the end,
// every acknowledged sample appended after a cursor was added is delivered
// to it or counted as lost for it, and the healthy reader "a" lost nothing
// while "b" was away for long stretches and the disk bound was hit.
func TestCursorsProperty(t *testing.T) {
	full := 0
	for run := range 4 {
		seed := uint64(time.Now().UnixNano()) + uint64(run)
		if s, err := strconv.ParseUint(os.Getenv("BULWARK_QUEUE_SEED"), 10, 64); err == nil {
			seed = s // replay a failed run: BULWARK_QUEUE_SEED=<seed>
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if cursorsProperty(t, seed) {
				full++
			}
		})
	}
	if full == 0 {
		t.Error("no run reached the disk bound: the test does not exercise it")
	}
}

// cursorsProperty runs one random sequence and reports whether the disk
// bound was reached.
func cursorsProperty(t *testing.T, seed uint64) bool {
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dir := t.TempDir()
	const maxBytes = 2500
	names := []string{"a", "b"}
	open := func() *Queue {
		q, err := Open(Options{CommitDelay: -1, Dir: dir, MaxBytes: maxBytes, SegmentBytes: 400, Cursors: slices.Clone(names)})
		if err != nil {
			t.Fatalf("open %v: %v", names, err)
		}
		return q
	}
	models := map[string]*cursorModel{"a": {}, "b": {}}
	var next int64 // the next sample's timestamp; all before it are acknowledged
	q := open()
	closeQ := func() {
		for _, c := range q.cursors {
			models[c.name].dropped += testutil.ToFloat64(q.metrics.cursorDropped.WithLabelValues(c.name, "full"))
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
	push := func(name string, maxSamples int, commit bool) {
		c, m := q.Cursor(name), models[name]
		pending := c.Pending()
		b, err := c.Read(maxSamples)
		if err != nil {
			t.Fatal(err)
		}
		if pending > 0 && b.Samples == 0 {
			t.Fatalf("cursor %s: %d pending but nothing to read", name, pending)
		}
		if !commit {
			return
		}
		for _, s := range series(t, b) {
			ts := s.Samples[0].Timestamp
			if n := len(m.delivered); n > 0 && ts <= m.delivered[n-1] {
				t.Fatalf("cursor %s: %d delivered after %d: repeated or out of order", name, ts, m.delivered[n-1])
			}
			m.delivered = append(m.delivered, ts)
		}
		if err := c.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	aDown := 0
	for step := range 600 {
		switch r := rng.IntN(100); {
		case r < 40:
			ts := make([]int64, 1+rng.IntN(5))
			for i := range ts {
				ts[i] = next + int64(i)
			}
			if err := q.Append(batch(ts...)); err != nil {
				t.Fatal(err)
			}
			next += int64(len(ts))
		case r < 50:
			aDown = 1 + rng.IntN(5) // a's pushes fail for a few steps
		case r < 53:
			push("b", 1+rng.IntN(30), rng.IntN(4) > 0) // b: rarely there
		case r < 65:
			if slices.Contains(names, "c") {
				push("c", 1+rng.IntN(30), rng.IntN(3) > 0)
			}
		case r < 73:
			push(names[rng.IntN(len(names))], 1+rng.IntN(30), false) // read, push failed
		case r < 80:
			closeQ()
			q = open()
		case r < 86:
			// A crash mid-write: the last segment ends in a torn record.
			closeQ()
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{byte(40 + rng.IntN(200)), 0, 0, 0, 1, 2, 3}[:1+rng.IntN(7)])
			f.Close()
			q = open()
		case r < 89:
			// Collector c added or removed (a restart with new config).
			closeQ()
			if i := slices.Index(names, "c"); i >= 0 {
				names = slices.Delete(names, i, i+1)
				delete(models, "c")
			} else {
				names = append(names, "c")
				models["c"] = &cursorModel{birth: next}
			}
			q = open()
			if i := slices.Index(names, "c"); i >= 0 {
				if _, err := os.Stat(filepath.Join(dir, "cursor-c")); err != nil {
					t.Fatalf("cursor c added but not persisted: %v", err)
				}
			} else if _, err := os.Stat(filepath.Join(dir, "cursor-c")); err == nil {
				t.Fatal("cursor c removed but its file is still there")
			}
		case r < 98:
			// Nothing happens: time passes.
		default:
			// b comes back for a while and catches up.
			for range 20 {
				push("b", 30, true)
			}
		}
		if aDown > 0 {
			aDown--
		} else {
			for q.Cursor("a").Pending() > 0 {
				push("a", 1+rng.IntN(30), true)
			}
		}
		if b := diskBytes(t, dir); b > maxBytes {
			t.Fatalf("step %d: %d bytes of segments on disk, bound %d", step, b, maxBytes)
		}
	}
	for _, name := range names {
		for q.Cursor(name).Pending() > 0 {
			push(name, 50, true)
		}
		push(name, 50, true)
	}
	closeQ()
	for _, name := range names {
		m := models[name]
		got := map[int64]bool{}
		for _, ts := range m.delivered {
			got[ts] = true
		}
		missing := 0
		for ts := m.birth; ts < next; ts++ {
			if !got[ts] {
				missing++
			}
		}
		t.Logf("cursor %s: %d delivered, %d missing of those appended since it was added, %v counted as lost", name, len(m.delivered), missing, m.dropped)
		if float64(missing) > m.dropped {
			t.Errorf("cursor %s: %d acknowledged samples neither delivered nor counted as lost (%v counted)", name, missing, m.dropped)
		}
	}
	if m := models["a"]; m.dropped != 0 || len(m.delivered) != int(next) {
		t.Errorf("healthy cursor a: %d of %d delivered, %v lost: another cursor held it back", len(m.delivered), next, m.dropped)
	}
	return models["b"].dropped > 0
}

func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	var n int64
	for _, s := range segs {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// An agent upgraded from one collector.url to collector.urls: the named
// cursors start where the unnamed one was (nothing delivered twice), its
// file goes; a collector removed later loses its cursor file and stops
// holding segments; one added later starts at the oldest record on disk.
func TestCursorsUpgradeAndRemove(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 200})
	for i := range 10 {
		q.Append(batch(int64(i)))
	}
	b, _ := q.Read(4)
	q.Commit(b)
	q.Close()

	q, err := Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 200, Cursors: []string{"a:9400", "b/x"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range q.Cursors() {
		if c.Pending() != 6 {
			t.Errorf("cursor %s: %d pending after the upgrade, want 6", c.Name(), c.Pending())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cursor")); err == nil {
		t.Error("the unnamed cursor's file is still there")
	}
	if _, err := os.Stat(filepath.Join(dir, "cursor-a%3A9400")); err != nil {
		t.Errorf("named cursor file: %v", err)
	}
	q.Append(batch(10))
	if got := drainCursor(t, q.Cursor("a:9400")); fmt.Sprint(got) != "[4 5 6 7 8 9 10]" {
		t.Fatalf("a got %v", got)
	}
	q.Close()

	// b removed, c added: b's backlog no longer holds segments; c starts
	// at what is left on disk.
	q, err = Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 200, Cursors: []string{"a:9400", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := os.Stat(filepath.Join(dir, "cursor-b%2Fx")); err == nil {
		t.Error("the removed cursor's file is still there")
	}
	if got := drainCursor(t, q.Cursor("c")); len(got) == 0 || got[len(got)-1] != 10 {
		t.Errorf("c got %v, want the tail on disk up to 10", got)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 1 {
		t.Errorf("%d segments kept once a and c delivered everything, want 1", len(segs))
	}
}

// A batch read again after a failed push counts its expired samples once.
func TestExpiredCountedOnce(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	q, _ := Open(Options{CommitDelay: -1, Dir: t.TempDir(), MaxAge: time.Hour, Now: func() time.Time { return now }})
	defer q.Close()
	q.Append(batch(1, 2))
	now = now.Add(2 * time.Hour)
	q.Append(batch(3))
	for range 3 {
		q.Read(100) // pushes that failed
	}
	drain(t, q, 100)
	if v := testutil.ToFloat64(q.metrics.dropped.WithLabelValues("expired")); v != 2 {
		t.Fatalf("expired = %v after three failed pushes and one good, want 2", v)
	}
}

func drainCursor(t *testing.T, c *Cursor) []int64 {
	t.Helper()
	var got []int64
	for {
		b, err := c.Read(3)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range series(t, b) {
			got = append(got, s.Samples[0].Timestamp)
		}
		if err := c.Commit(b); err != nil {
			t.Fatal(err)
		}
		if b.Samples == 0 {
			return got
		}
	}
}

// kill -9 with two cursors, one committing as it goes and one away: after
// a restart each resumes exactly where its last commit left it, and every
// acknowledged sample reaches both.
func TestKill9Cursors(t *testing.T) {
	opts := func(dir string) Options {
		return Options{CommitDelay: -1, Dir: dir, SegmentBytes: 4096, Cursors: []string{"a", "b"}}
	}
	if dir := os.Getenv("BULWARK_QUEUE_CURSORS_HELPER"); dir != "" {
		q, err := Open(opts(dir))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		start, _ := strconv.Atoi(os.Getenv("BULWARK_QUEUE_CURSORS_START"))
		for i := start; ; i++ {
			if err := q.Append(batch(int64(i))); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println(i) // acknowledged
			if i%7 == 0 {
				b, _ := q.Cursor("a").Read(5)
				if err := q.Cursor("a").Commit(b); err != nil {
					fmt.Println("error", err)
					os.Exit(1)
				}
				fmt.Println("c", b.Samples) // a delivered these
			}
		}
	}
	dir := t.TempDir()
	next := 0            // the next sample the helper appends
	aFrom, bFrom := 0, 0 // where each cursor resumes
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Cursors$")
		cmd.Env = append(os.Environ(), "BULWARK_QUEUE_CURSORS_HELPER="+dir, "BULWARK_QUEUE_CURSORS_START="+strconv.Itoa(next))
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		last := next - 1
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "c "); ok {
				k, _ := strconv.Atoi(n)
				aFrom += k
				continue
			}
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("helper: %s", sc.Text())
			}
			last = n
			if n >= next+200+round*37 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		cmd.Wait()
		q, err := Open(opts(dir))
		if err != nil {
			t.Fatal(err)
		}
		for name, from := range map[string]*int{"a": &aFrom, "b": &bFrom} {
			got := drainCursor(t, q.Cursor(name))
			if name == "a" && len(got) > 0 && got[0] > int64(*from) && got[0] <= int64(*from+5) {
				*from = int(got[0]) // killed between a commit and its line
			}
			if len(got) == 0 || got[0] != int64(*from) || got[len(got)-1] < int64(last) {
				t.Fatalf("round %d: cursor %s resumed with %v, want %d.. at least %d", round, name, got, *from, last)
			}
			for i, ts := range got {
				if ts != int64(*from+i) {
					t.Fatalf("round %d: cursor %s: sample %d is %d: lost, repeated or out of order", round, name, i, ts)
				}
			}
			*from += len(got)
			next = *from
		}
		q.Close()
	}
}
