// Package backup writes and restores a running collector's data: a TSDB
// snapshot (head included), an online copy of the SQLite state database
// (VACUUM INTO: consistent while the collector writes), the state files
// and the configuration, with a manifest of SHA-256 checksums, as one
// gzip-compressed tar. Restore checks every checksum before it writes
// anything, into an empty directory only.
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
	"time"
)

// Format is the backup's format version; FormatFile in a data directory
// names the data directory's (see DataFormat).
const (
	Format     = 1
	FormatFile = "FORMAT"
)

// Manifest describes a backup; it is the archive's last entry.
type Manifest struct {
	Format     int       `json:"format"`
	Created    time.Time `json:"created"`
	Version    string    `json:"version"`
	DataFormat int       `json:"data_format"`
	Files      []File    `json:"files"`
}

// File is one file of the backup.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Writer writes a backup archive.
type Writer struct {
	tw *tar.Writer
	gz *gzip.Writer
	m  Manifest
}

// NewWriter starts a backup on w.
func NewWriter(w io.Writer, version string, dataFormat int) *Writer {
	gz := gzip.NewWriter(w)
	return &Writer{gz: gz, tw: tar.NewWriter(gz), m: Manifest{Format: Format, Created: time.Now().UTC(), Version: version, DataFormat: dataFormat}}
}

// AddFile adds the file at src as name (slash-separated, relative).
func (w *Writer) AddFile(name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: st.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w.tw, h), f)
	if err != nil {
		return fmt.Errorf("backup: %s: %w", name, err)
	}
	if n != st.Size() {
		return fmt.Errorf("backup: %s changed while it was copied", name)
	}
	w.m.Files = append(w.m.Files, File{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// AddDir adds every regular file under dir as prefix/relative-path.
func (w *Writer) AddDir(prefix, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return w.AddFile(prefix+"/"+filepath.ToSlash(rel), p)
	})
}

// Close writes the manifest and ends the archive.
func (w *Writer) Close() (*Manifest, error) {
	b, err := json.MarshalIndent(w.m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := w.tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o600, Size: int64(len(b)), ModTime: w.m.Created, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := w.tw.Write(b); err != nil {
		return nil, err
	}
	if err := errors.Join(w.tw.Close(), w.gz.Close()); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return &w.m, nil
}

// Bounds of a restore: an archive is input.
const (
	maxFiles     = 1_000_000
	maxFileBytes = 64 << 30
)

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
// every file matches the manifest.
func Restore(open func() (io.ReadCloser, error), dir string) (*Manifest, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("restore: %s is not empty: restore into a new data directory", dir)
	}
	m, err := walk(open, nil)
	if err != nil {
		return nil, err
	}
	if _, err := walk(open, func(name string, r io.Reader) error {
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasPrefix(name, "config/") {
			dst = filepath.Join(dir, "restored-config", filepath.FromSlash(strings.TrimPrefix(name, "config/")))
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		return errors.Join(err, f.Close())
	}); err != nil {
		return nil, err
	}
	return m, os.WriteFile(filepath.Join(dir, FormatFile), []byte(fmt.Sprintf("%d\n", m.DataFormat)), 0o640)
}

// Check reads a backup and checks every file against its manifest.
func Check(open func() (io.ReadCloser, error)) (*Manifest, error) { return walk(open, nil) }

// walk reads the archive: with write nil it checks every file against the
// manifest (the last entry); else it hands each file to write.
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
	for _, f := range m.Files {
		if got, ok := sums[f.Path]; !ok || got != f {
			return nil, fmt.Errorf("restore: %s does not match its checksum in the manifest: the backup is damaged", f.Path)
		}
	}
	return m, nil
}
