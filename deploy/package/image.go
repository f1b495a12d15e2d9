package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is the image's user, as distroless images have it.
const nonroot = 65532

// ImageSpec is one image: a static binary and how it starts.
type ImageSpec struct {
	Docs       map[string]string // files under /usr/share/doc/NAME/: name -> source path (licence, notices)
	Name       string            // bulwark or bulwark-agent
	Binary     string            // path of the static linux/amd64 binary
	Entrypoint []string          // the binary and its fixed flags
	Port       string            // exposed, e.g. 9400/tcp
	StateDir   string            // writable volume, owned by the user
}

// Image builds an image from nothing but spec's binary, as ko does: no
// base image, no shell, a non-root user, the system's CA bundle for TLS
// probes, labels naming the source, version and licence.
func Image(spec ImageSpec, version, source, caBundle string) (v1.Image, error) {
	bin, err := os.ReadFile(spec.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // reproducible layers
	dir := func(name string, uid int) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, Uid: uid, Gid: uid, ModTime: mtime})
	}
	file := func(name string, mode int64, body []byte) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: mtime})
		tw.Write(body)
	}
	for _, d := range []string{"etc/", "etc/bulwark/", "etc/ssl/", "etc/ssl/certs/", "usr/", "usr/bin/", "var/", "var/lib/", "tmp/"} {
		dir(d, 0)
	}
	dir(spec.StateDir[1:]+"/", nonroot)
	file("etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", nonroot, nonroot, spec.StateDir))
	file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", nonroot))
	if ca, err := os.ReadFile(caBundle); err == nil {
		file("etc/ssl/certs/ca-certificates.crt", 0o644, ca)
	}
	file("usr/bin/"+spec.Name, 0o755, bin)
	if len(spec.Docs) > 0 {
		dir("usr/share/", 0)
		dir("usr/share/doc/", 0)
		dir("usr/share/doc/"+spec.Name+"/", 0)
		for _, name := range []string{"copyright", "THIRD_PARTY_NOTICES"} {
			if src, ok := spec.Docs[name]; ok {
				b, err := os.ReadFile(src)
				if err != nil {
					return nil, fmt.Errorf("image: %w", err)
				}
				file("usr/share/doc/"+spec.Name+"/"+name, 0o644, b)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil })
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	cfg.User = fmt.Sprintf("%d:%d", nonroot, nonroot)
	cfg.Entrypoint = spec.Entrypoint
	cfg.WorkingDir = spec.StateDir
	cfg.Env = []string{"PATH=/usr/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cfg.Volumes = map[string]struct{}{spec.StateDir: {}}
	if spec.Port != "" {
		cfg.ExposedPorts = map[string]struct{}{spec.Port: {}}
	}
	cfg.Labels = map[string]string{
		"org.opencontainers.image.title":    spec.Name,
		"org.opencontainers.image.source":   source,
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.description": "Bulwark " + spec.Name + ": run with a read-only root filesystem; " +
			"mount the configuration at /etc/bulwark and a volume at " + spec.StateDir,
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: mtime})
}

// WriteLayout writes images into an OCI image layout at dir (what
// `podman load`, `skopeo copy oci:DIR` and registries' tools read), each
// under its name:version reference.
func WriteLayout(dir, version string, images map[string]v1.Image) error {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image layout: %w", err)
	}
	for name, img := range images {
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": name + ":" + version})); err != nil {
			return fmt.Errorf("image layout: %w", err)
		}
	}
	return nil
}
