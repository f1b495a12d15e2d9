// Package archive packs the Grafana plugin folder into a zip, as
// Grafana's plugin installer and `grafana cli plugins install` expect:
// one top-level folder named after the plugin id.
package archive

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ID is the plugin id and the archive's top folder.
const ID = "bulwarkhq-bulwark-datasource"

// Pack writes out/ID-version.zip from the front end in src and the back
// end binary bin, and returns its path.
func Pack(src, bin, version, out string) (string, error) {
	if bin == "" {
		return "", fmt.Errorf("archive: the back end binary is required")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	name := filepath.Join(out, ID+"-"+version+".zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(path string, mode os.FileMode, body []byte) error {
		h := &zip.FileHeader{Name: ID + "/" + path, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
	manifest, err := os.ReadFile(filepath.Join(src, "plugin.json"))
	if err != nil {
		return "", fmt.Errorf("archive: %w", err)
	}
	manifest = []byte(strings.NewReplacer("%VERSION%", version, "%TODAY%", time.Now().UTC().Format("2006-01-02")).Replace(string(manifest)))
	if err := add("plugin.json", 0o644, manifest); err != nil {
		return "", err
	}
	for _, f := range []string{"module.js", "img/logo.svg"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", fmt.Errorf("archive: %w", err)
		}
		if err := add(f, 0o644, b); err != nil {
			return "", err
		}
	}
	f, err := os.Open(bin)
	if err != nil {
		return "", fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	if err := add("gpx_bulwark_linux_amd64", 0o755, b); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return name, os.WriteFile(name, buf.Bytes(), 0o644)
}
