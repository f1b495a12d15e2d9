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
	"path/filepath"
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
