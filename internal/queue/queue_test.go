package queue

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bulwarkhq/bulwark/internal/wire"
)

func batch(ts ...int64) []wire.Series {
	out := make([]wire.Series, len(ts))
	for i, t := range ts {
		out[i] = wire.Series{Labels: []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "target", Value: "t"}},
			Samples: []wire.Sample{{Value: 1, Timestamp: t}}}
	}
	return out
}

// drain reads and commits everything, returning the timestamps in order.
func drain(t *testing.T, q *Queue, max int) []int64 {
	t.Helper()
	var got []int64
	for {
		b, err := q.Read(max)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range series(t, b) {
			got = append(got, s.Samples[0].Timestamp)
		}
		if err := q.Commit(b); err != nil {
			t.Fatal(err)
		}
		if b.Samples == 0 {
			return got
		}
	}
}

func series(t *testing.T, b *Batch) []wire.Series {
	t.Helper()
	r, err := b.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return r.Series
}

func TestOrderAndResume(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := q.Append(batch(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := q.Read(10)
	if ss := series(t, b); len(ss) != 10 || ss[0].Samples[0].Timestamp != 0 {
		t.Fatalf("first batch %v", ss)
	}
	q.Commit(b)
	q.Close()

	// Reopen: the committed ten are not delivered again.
	q, err = Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := drain(t, q, 7)
	if len(got) != 20 || got[0] != 10 || got[19] != 29 {
		t.Fatalf("after reopen got %v, want 10..29", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("out of order: %v", got)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Errorf("%d segments left after delivering everything, want 1", len(segs))
	}
}

// A crash in the middle of a write leaves a torn record; it is cut off
// and everything acknowledged before it is delivered.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(Options{CommitDelay: -1, Dir: dir})
	for i := range 5 {
		q.Append(batch(int64(i)))
	}
	q.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3}) // a header promising 200 bytes, then the crash
	f.Close()
	q, err := Open(Options{CommitDelay: -1, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.Append(batch(5))
	if got := drain(t, q, 100); fmt.Sprint(got) != "[0 1 2 3 4 5]" {
		t.Fatalf("got %v", got)
	}
}

// Over MaxBytes the oldest segments are dropped and counted.
func TestMaxBytes(t *testing.T) {
	q, _ := Open(Options{CommitDelay: -1, Dir: t.TempDir(), MaxBytes: 2000, SegmentBytes: 300})
	defer q.Close()
	for i := range 100 {
		if err := q.Append(batch(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	dropped := testutil.ToFloat64(q.metrics.dropped.WithLabelValues("full"))
	got := drain(t, q, 1000)
	if dropped == 0 || int(dropped)+len(got) != 100 {
		t.Fatalf("dropped %v and delivered %d of 100", dropped, len(got))
	}
	if got[len(got)-1] != 99 || got[0] != int64(dropped) {
		t.Fatalf("kept %d..%d, want the newest (from %v)", got[0], got[len(got)-1], dropped)
	}
	if b := testutil.ToFloat64(q.metrics.bytes); b > 2000 {
		t.Fatalf("queue holds %v bytes, bound 2000", b)
	}
}

// Samples queued longer than MaxAge are dropped on read and counted.
func TestMaxAge(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	q, _ := Open(Options{CommitDelay: -1, Dir: t.TempDir(), MaxAge: time.Hour, Now: func() time.Time { return now }})
	defer q.Close()
	q.Append(batch(1, 2))
	now = now.Add(2 * time.Hour)
	q.Append(batch(3))
	if got := drain(t, q, 100); fmt.Sprint(got) != "[3]" {
		t.Fatalf("got %v, want only the fresh sample", got)
	}
	if v := testutil.ToFloat64(q.metrics.dropped.WithLabelValues("expired")); v != 2 {
		t.Fatalf("expired = %v", v)
	}
}

// A full disk refuses new batches with ErrWrite and loses nothing that
// was accepted before. Uses a 64 KiB tmpfs, so it needs root.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("TestDiskFull mounts a tmpfs and needs root")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	q, err := Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var acked []int64
	var werr error
	for i := range 100000 {
		ts := make([]int64, 20)
		for j := range ts {
			ts[j] = int64(i*20 + j)
		}
		if werr = q.Append(batch(ts...)); werr != nil {
			break
		}
		acked = append(acked, ts...)
	}
	if !errors.Is(werr, ErrWrite) || !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("want ErrWrite wrapping ENOSPC, got %v", werr)
	}
	q.Close()
	q, err = Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 16 << 10})
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	defer q.Close()
	got := drain(t, q, 500)
	if len(got) != len(acked) {
		t.Fatalf("delivered %d of %d acknowledged samples", len(got), len(acked))
	}
	for i := range got {
		if got[i] != acked[i] {
			t.Fatalf("sample %d: %d, want %d", i, got[i], acked[i])
		}
	}
}

// kill -9 of a process appending to the queue: every batch whose Append
// returned before the kill is delivered after a restart, once, in order.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("BULWARK_QUEUE_HELPER"); dir != "" {
		q, err := Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 4096})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for i := 0; ; i++ {
			if err := q.Append(batch(int64(i))); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println(i) // acknowledged
		}
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
		cmd.Env = append(os.Environ(), "BULWARK_QUEUE_HELPER="+dir)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		last := -1
		for sc.Scan() {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("helper: %s", sc.Text())
			}
			last = n
			if n >= 300+round*37 {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		cmd.Wait()
		q, err := Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, q, 50)
		q.Close()
		if len(got) < last+1 {
			t.Fatalf("round %d: %d delivered, but %d were acknowledged", round, len(got), last+1)
		}
		for i, ts := range got {
			if ts != int64(i) {
				t.Fatalf("round %d: sample %d is %d: lost, duplicated or out of order", round, i, ts)
			}
		}
	}
}

func TestPending(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 300})
	for i := range 20 {
		q.Append(batch(int64(i), int64(i)))
	}
	if q.Pending() != 40 {
		t.Fatalf("pending %d, want 40", q.Pending())
	}
	b, _ := q.Read(5)
	q.Commit(b)
	if q.Pending() != 40-b.Samples {
		t.Fatalf("pending %d after delivering %d", q.Pending(), b.Samples)
	}
	q.Close()
	q, _ = Open(Options{CommitDelay: -1, Dir: dir, SegmentBytes: 300})
	defer q.Close()
	if q.Pending() != 40-b.Samples {
		t.Fatalf("pending %d after reopen", q.Pending())
	}
	drain(t, q, 100)
	if q.Pending() != 0 {
		t.Fatalf("pending %d after draining", q.Pending())
	}
}
