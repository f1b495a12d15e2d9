package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/bulwarkhq/bulwark/collector/backup"
)

// runBackup: bulwark backup --out FILE [--collector URL] [--token-file FILE]
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", "bulwark backup --out FILE [--collector URL] [--token-file FILE] (admin)", stdout, stderr)
	base := fs.String("collector", "http://127.0.0.1:9400", "collector base `URL`")
	tokenFile := tokenFlag(fs)
	out := fs.String("out", "", "`file` to write the backup to (gzip tar, mode 0600: it holds the signing key)")
	if _, err := parseFlags(fs, args, 0, stdout); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("backup: --out is required")
	}
	resp, err := send(ctx, http.MethodGet, *base, "/api/v1/admin/backup", *tokenFile, nil)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("backup: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = io.Copy(f, resp.Body)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: the collector's answer broke off: %w", err)
	}
	// Read it back: every file against the manifest, before it is called a backup.
	m, err := backup.Check(func() (io.ReadCloser, error) { return os.Open(tmp) })
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	fmt.Fprintf(stdout, "wrote %s: %d files, %d bytes before compression, checked against its manifest (format %d, Bulwark %s)\n",
		*out, len(m.Files), size, m.Format, m.Version)
	return nil
}

// runRestore: bulwark restore FILE --data DIR
func runRestore(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("restore", "bulwark restore FILE --data DIR", stdout, stderr)
	dir := fs.String("data", "", "a new, empty data `directory` to restore into")
	pos, err := parseFlags(fs, args, 1, stdout)
	if err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("restore: --data is required")
	}
	m, err := backup.Restore(func() (io.ReadCloser, error) { return os.Open(pos[0]) }, *dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %d files of %s (made %s) into %s; its configuration is in %s/restored-config/: point data_dir at %s and start the collector\n",
		len(m.Files), pos[0], m.Created.Format("2006-01-02 15:04:05 MST"), *dir, *dir, *dir)
	return nil
}
