package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func archive(t testing.TB, entries map[string]string, typ byte) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for name, body := range entries {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: 0o600, Size: int64(len(body)), Linkname: "/etc/passwd"})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// TestRoundTripAndHostileArchives: a backup restores as written; an entry
// outside the backup's layout (absolute, "..", a symlink, an unknown top
// directory) or a file that does not match the manifest is refused, and
// nothing is written.
func TestRoundTripAndHostileArchives(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "tsdb", "wal"), 0o750)
	os.WriteFile(filepath.Join(src, "tsdb", "wal", "00000000"), []byte("wal"), 0o600)
	os.WriteFile(filepath.Join(src, "bulwark.yml"), []byte("data_dir: x\n"), 0o600)
	var b bytes.Buffer
	w := NewWriter(&b, "test", 1)
	if err := w.AddDir("tsdb", filepath.Join(src, "tsdb")); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFile("config/bulwark.yml", filepath.Join(src, "bulwark.yml")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "data")
	if _, err := Restore(opener(b.Bytes()), dst); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "tsdb", "wal", "00000000")); string(got) != "wal" {
		t.Errorf("restored: %q", got)
	}
	for name, a := range map[string][]byte{
		"absolute":     archive(t, map[string]string{"/etc/cron.d/x": "x"}, tar.TypeReg),
		"dot-dot":      archive(t, map[string]string{"tsdb/../../x": "x"}, tar.TypeReg),
		"symlink":      archive(t, map[string]string{"tsdb/link": ""}, tar.TypeSymlink),
		"unknown top":  archive(t, map[string]string{"bin/x": "x"}, tar.TypeReg),
		"no manifest":  archive(t, map[string]string{"tsdb/x": "x"}, tar.TypeReg),
		"bad checksum": archive(t, map[string]string{"tsdb/x": "y", "manifest.json": `{"format":1,"files":[{"path":"tsdb/x","size":1,"sha256":"00"}]}`}, tar.TypeReg),
		"not gzip":     []byte("plain text"),
		"other format": archive(t, map[string]string{"manifest.json": `{"format":9,"files":[]}`}, tar.TypeReg),
	} {
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Restore(opener(a), out); err == nil {
			t.Errorf("%s: restored", name)
		} else if !strings.HasPrefix(err.Error(), "restore: ") {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: something was written", name)
		}
	}
}

// FuzzCheck: any bytes as a backup archive are checked without a panic,
// and a file is accepted only under the backup's own layout.
func FuzzCheck(f *testing.F) {
	var b bytes.Buffer
	w := NewWriter(&b, "test", 1)
	w.Close()
	f.Add(b.Bytes())
	f.Add(archive(f, map[string]string{"tsdb/x": "x"}, tar.TypeReg))
	// Issue 19 item 9: a name twice, the attacker's copy first.
	key := entry{"state/signing.key", "cmVhbCBrZXk="}
	f.Add(ordered(f, []entry{{"state/signing.key", "YXR0YWNrZXI="}, key}, []entry{key}))
	f.Add(ordered(f, []entry{key, {"state/extra", "x"}}, []entry{key, key}))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Check(opener(in))
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if !validName(file.Path) {
				t.Fatalf("accepted %q", file.Path)
			}
		}
		seen := map[string]bool{}
		for _, name := range tarNames(in) {
			if seen[name] {
				t.Fatalf("accepted an archive holding %q twice", name)
			}
			seen[name] = true
		}
	})
}

// tarNames lists the names of a gzip-compressed tar, as far as it reads.
func tarNames(in []byte) []string {
	gz, err := gzip.NewReader(bytes.NewReader(in))
	if err != nil {
		return nil
	}
	var names []string
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			return names
		}
		names = append(names, h.Name)
	}
}
