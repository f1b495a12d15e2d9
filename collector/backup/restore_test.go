package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

type entry struct{ name, body string }

// ordered writes entries in order (a name may repeat), then a manifest
// listing listed (name and body) unless listed is nil.
func ordered(t testing.TB, entries []entry, listed []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	put := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	for _, e := range entries {
		put(e.name, []byte(e.body))
	}
	if listed != nil {
		m := Manifest{Format: Format, DataFormat: 1, Files: []File{}}
		for _, e := range listed {
			s := sha256.Sum256([]byte(e.body))
			m.Files = append(m.Files, File{Path: e.name, Size: int64(len(e.body)), SHA256: hex.EncodeToString(s[:])})
		}
		j, _ := json.Marshal(m)
		put("manifest.json", j)
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

// untouched fails unless dir is as it was: absent, or empty.
func untouched(t *testing.T, name, dir string, existed bool) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	switch {
	case !existed && !errors.Is(err, os.ErrNotExist):
		t.Errorf("%s: %s exists after a failed restore (%v)", name, dir, err)
	case existed && (err != nil || len(entries) > 0):
		t.Errorf("%s: %s holds %v after a failed restore (%v)", name, dir, entries, err)
	}
	siblings, _ := os.ReadDir(filepath.Dir(dir))
	for _, s := range siblings {
		if s.Name() != filepath.Base(dir) {
			t.Errorf("%s: a failed restore left %s beside %s", name, s.Name(), dir)
		}
	}
}

// Issue 19 item 9: an archive that holds state/signing.key twice (the
// attacker's first, then the one the manifest lists) is refused before
// anything is written, whether the target is absent or an empty
// directory; so is a manifest that lists a file twice to hide an unlisted
// one.
func TestRestoreRefusesDuplicates(t *testing.T) {
	real := entry{"state/signing.key", "cmVhbCBrZXk="}
	for name, a := range map[string][]byte{
		"entry twice":    ordered(t, []entry{{"state/signing.key", "YXR0YWNrZXI="}, real}, []entry{real}),
		"manifest twice": ordered(t, []entry{real, {"manifest.json", `{"format":1,"files":[]}`}}, []entry{real}),
		"listed twice":   ordered(t, []entry{real, {"state/extra", "x"}}, []entry{real, real}),
	} {
		if _, err := Check(opener(a)); !errors.Is(err, ErrDuplicate) {
			t.Errorf("%s: Check: %v", name, err)
		}
		for _, existed := range []bool{false, true} {
			dir := filepath.Join(t.TempDir(), "data")
			if existed {
				os.Mkdir(dir, 0o750)
			}
			if _, err := Restore(opener(a), dir); !errors.Is(err, ErrDuplicate) {
				t.Errorf("%s: Restore: %v", name, err)
			}
			untouched(t, name, dir, existed)
		}
	}
}

// A restore that fails while it writes (the archive changed between the
// check and the write, or two names collide as file and directory)
// leaves the target as it found it, absent or empty; one that succeeds
// into an empty directory fills it.
func TestRestoreFailureLeavesNothing(t *testing.T) {
	key := entry{"state/signing.key", "cmVhbCBrZXk="}
	good := ordered(t, []entry{{"tsdb/wal/00000000", "wal"}, key}, []entry{{"tsdb/wal/00000000", "wal"}, key})
	swapped := ordered(t, []entry{{"tsdb/wal/00000000", "wal"}, {"state/signing.key", "YXR0YWNrZXI="}}, []entry{{"tsdb/wal/00000000", "wal"}, key})
	dupSecond := ordered(t, []entry{{"tsdb/wal/00000000", "wal"}, {"state/signing.key", "YXR0YWNrZXI="}, key}, []entry{{"tsdb/wal/00000000", "wal"}, key})
	fileUnderFile := ordered(t, []entry{{"tsdb/a", "x"}, {"tsdb/a/b", "y"}}, []entry{{"tsdb/a", "x"}, {"tsdb/a/b", "y"}})
	// The first read (the check) sees first, the second read second (nil:
	// an error).
	for name, tc := range map[string]struct{ first, second []byte }{
		"changed after the check":    {good, swapped},
		"duplicate on the 2nd read":  {good, dupSecond},
		"file under a file":          {fileUnderFile, fileUnderFile},
		"unreadable the second time": {good, nil},
	} {
		for _, existed := range []bool{false, true} {
			dir := filepath.Join(t.TempDir(), "data")
			if existed {
				os.Mkdir(dir, 0o750)
			}
			reads := 0
			open := func() (io.ReadCloser, error) {
				reads++
				switch {
				case reads == 1:
					return io.NopCloser(bytes.NewReader(tc.first)), nil
				case tc.second == nil:
					return nil, os.ErrPermission
				}
				return io.NopCloser(bytes.NewReader(tc.second)), nil
			}
			if _, err := Restore(open, dir); err == nil {
				t.Errorf("%s: restored", name)
			}
			untouched(t, name, dir, existed)
		}
	}
	dir := filepath.Join(t.TempDir(), "data")
	os.Mkdir(dir, 0o750)
	if _, err := Restore(opener(good), dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "state", "signing.key")); string(got) != key.body || len(names) != 3 {
		t.Errorf("restored into an empty directory: key %q, entries %v", got, names)
	}
}
