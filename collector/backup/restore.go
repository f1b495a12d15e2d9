package backup

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Bounds of a restore: an archive is input.
const (
	maxFiles     = 1_000_000
	maxFileBytes = 64 << 30
)

// ErrDuplicate is returned for an archive that holds a name twice, or a
// manifest that lists a file twice: which copy is meant would be the
// reader's guess.
var ErrDuplicate = errors.New("a name appears twice")

// validName accepts the relative, slash-separated names a backup holds.
func validName(name string) bool {
	clean := path.Clean(name)
	return name != "" && clean == name && !path.IsAbs(name) && !strings.HasPrefix(name, "../") && name != ".." &&
		!strings.Contains(name, "\\") && (strings.HasPrefix(name, "tsdb/") || strings.HasPrefix(name, "state/") ||
		strings.HasPrefix(name, "config/") || name == "manifest.json" || name == FormatFile)
}

// Restore extracts the archive read from open (called twice: to check,
// then to write) into dir, which must be empty or absent; the
// configuration goes to dir/restored-config/. Nothing is written unless
// every file matches the manifest, and a restore that fails leaves dir as
// it found it: the files are written into a staging directory (a sibling
// of an absent dir, inside an empty one), checked against the manifest
// again as they are written, and only then moved into place, FORMAT
// last.
func Restore(open func() (io.ReadCloser, error), dir string) (*Manifest, error) {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return nil, fmt.Errorf("restore: %s is not empty: restore into a new data directory", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("restore: %w", err)
	}
	absent := err != nil
	if _, err := walk(open, nil); err != nil {
		return nil, err
	}
	var stage string
	if absent {
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o750); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		stage, err = os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(dir)+".restore-")
	} else {
		stage, err = os.MkdirTemp(dir, ".restore-")
	}
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	m, err := extract(open, stage)
	if err == nil {
		err = place(stage, dir, absent)
	}
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(stage))
	}
	return m, nil
}

// extract writes the archive into stage, checking it against its
// manifest again: the archive is read a second time and may have changed
// since it was checked.
func extract(open func() (io.ReadCloser, error), stage string) (*Manifest, error) {
	m, err := walk(open, func(name string, r io.Reader) error {
		dst := filepath.Join(stage, filepath.FromSlash(name))
		if rest, ok := strings.CutPrefix(name, "config/"); ok {
			dst = filepath.Join(stage, "restored-config", filepath.FromSlash(rest))
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Sync()
		}
		return errors.Join(err, f.Close())
	})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stage, FormatFile), fmt.Appendf(nil, "%d\n", m.DataFormat), 0o640); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return m, nil
}

// place moves the checked stage into dir: one rename when dir was absent,
// else each top-level entry, FORMAT last, removing what it moved if a
// move fails.
func place(stage, dir string, absent bool) error {
	if absent {
		if err := os.Chmod(stage, 0o750); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if err := os.Rename(stage, dir); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		return syncDir(filepath.Dir(filepath.Clean(dir)))
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Name() != FormatFile {
			names = append(names, e.Name())
		}
	}
	names = append(names, FormatFile)
	for i, name := range names {
		if err := os.Rename(filepath.Join(stage, name), filepath.Join(dir, name)); err != nil {
			for _, done := range names[:i] {
				err = errors.Join(err, os.RemoveAll(filepath.Join(dir, done)))
			}
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Remove(stage); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("restore: sync %s: %w", dir, err)
	}
	return nil
}

// Check reads a backup and checks every file against its manifest.
func Check(open func() (io.ReadCloser, error)) (*Manifest, error) { return walk(open, nil) }

// walk reads the archive: with write nil it checks every file against the
// manifest (the last entry); else it hands each file to write, and checks
// them all at the end. A name the archive holds twice is refused when it
// is met, before write sees it.
func walk(open func() (io.ReadCloser, error), write func(name string, r io.Reader) error) (*Manifest, error) {
	rc, err := open()
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("restore: not a backup (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	sums := map[string]File{}
	var m *Manifest
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		if n > maxFiles || h.Typeflag != tar.TypeReg || !validName(h.Name) || h.Size < 0 || h.Size > maxFileBytes {
			return nil, fmt.Errorf("restore: entry %q is not a file a backup holds", h.Name)
		}
		if _, dup := sums[h.Name]; dup || (h.Name == "manifest.json" && m != nil) {
			return nil, fmt.Errorf("restore: entry %q: %w in the archive: the backup was tampered with", h.Name, ErrDuplicate)
		}
		if h.Name == "manifest.json" {
			m = &Manifest{}
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(m); err != nil {
				return nil, fmt.Errorf("restore: manifest: %w", err)
			}
			continue
		}
		hash := sha256.New()
		r := io.TeeReader(io.LimitReader(tr, h.Size), hash)
		if write != nil {
			if err := write(h.Name, r); err != nil {
				return nil, fmt.Errorf("restore: %s: %w", h.Name, err)
			}
		} else if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, fmt.Errorf("restore: %s: %w", h.Name, err)
		}
		sums[h.Name] = File{Path: h.Name, Size: h.Size, SHA256: hex.EncodeToString(hash.Sum(nil))}
	}
	if m == nil {
		return nil, errors.New("restore: no manifest: the backup is truncated")
	}
	if m.Format != Format {
		return nil, fmt.Errorf("restore: backup format %d, this binary reads %d", m.Format, Format)
	}
	if len(sums) != len(m.Files) {
		return nil, fmt.Errorf("restore: %d files in the archive, %d in its manifest", len(sums), len(m.Files))
	}
	// Every file listed once: with the counts equal, every file of the
	// archive is then listed.
	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if listed[f.Path] {
			return nil, fmt.Errorf("restore: manifest: %s: %w", f.Path, ErrDuplicate)
		}
		listed[f.Path] = true
		if got, ok := sums[f.Path]; !ok || got != f {
			return nil, fmt.Errorf("restore: %s does not match its checksum in the manifest: the backup is damaged", f.Path)
		}
	}
	return m, nil
}
