package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
)

// Build writes bulwark and bulwark-agent .deb files of version into out
// and returns their paths.
func Build(root, bin, version, out string) ([]string, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	env := map[string]string{"VERSION": version, "BIN_DIR": bin, "ROOT": root}
	var debs []string
	for _, name := range []string{"bulwark", "bulwark-agent"} {
		// Expanded here: nfpm expands the environment in some fields only, not in contents.
		raw, err := os.ReadFile(filepath.Join(root, "deploy", "package", name+".nfpm.yaml"))
		if err != nil {
			return nil, err
		}
		cfg, err := nfpm.Parse(strings.NewReader(os.Expand(string(raw), func(k string) string { return env[k] })))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		info, err := cfg.Get("deb")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		info = nfpm.WithDefaults(info)
		if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		pkg, err := nfpm.Get("deb")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(out, pkg.ConventionalFileName(info))
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := pkg.Package(info, f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		debs = append(debs, path)
	}
	return debs, nil
}
