package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestImages builds the two images from binaries of this tree into an
// OCI layout, as `make image` does, reads the layout back and checks each
// image: a non-root user, the entrypoint, labels with source and version,
// one layer with no shell in it; then runs the entrypoint's binary
// extracted from the image.
func TestImages(t *testing.T) {
	root, _ := filepath.Abs("../..")
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/bulwark", "./cmd/bulwark-agent")
	build.Dir = root // the test's build settings (make image builds static binaries)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	if err := Images(root, bin, "1.2.3", "https://example.invalid/bulwark", dir); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	man, err := idx.IndexManifest()
	if err != nil || len(man.Manifests) != 2 {
		t.Fatalf("index: %v %+v", err, man)
	}
	for _, d := range man.Manifests {
		ref := d.Annotations["org.opencontainers.image.ref.name"]
		name := strings.TrimSuffix(ref, ":1.2.3")
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "65532:65532" || len(c.Entrypoint) == 0 || c.Entrypoint[0] != "/usr/bin/"+name ||
			c.Labels["org.opencontainers.image.source"] != "https://example.invalid/bulwark" || c.Labels["org.opencontainers.image.version"] != "1.2.3" {
			t.Errorf("%s: config %+v", ref, c)
		}
		layers, _ := img.Layers()
		if len(layers) != 1 {
			t.Fatalf("%s: %d layers", ref, len(layers))
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		extracted, notices := "", false
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(h.Name, "bin/") || strings.HasSuffix(h.Name, "/sh") || strings.HasSuffix(h.Name, "busybox") {
				t.Errorf("%s holds %s: no shell in the image", ref, h.Name)
			}
			notices = notices || h.Name == "usr/share/doc/"+name+"/THIRD_PARTY_NOTICES"
			if h.Name == strings.TrimPrefix(c.Entrypoint[0], "/") {
				if h.Mode&0o111 == 0 {
					t.Errorf("%s: %s is not executable", ref, h.Name)
				}
				extracted = filepath.Join(t.TempDir(), name)
				b, _ := io.ReadAll(tr)
				os.WriteFile(extracted, b, 0o755)
			}
		}
		rc.Close()
		if !notices {
			t.Errorf("%s does not carry the third-party notices", ref)
		}
		if extracted == "" {
			t.Fatalf("%s: the entrypoint %s is not in the image", ref, c.Entrypoint[0])
		}
		out, err := exec.Command(extracted, "--help").CombinedOutput()
		if err != nil || !strings.Contains(strings.ToLower(string(out)), "usage") {
			t.Errorf("%s: the entrypoint's binary does not run: %v\n%s", ref, err, out)
		}
	}
}
