// Command package builds Bulwark's Debian packages, bulwark and
// bulwark-agent, with nfpm (github.com/goreleaser/nfpm/v2) from the
// *.nfpm.yaml beside it: binaries, systemd units, configuration as
// conffiles, maintainer scripts that create the service users, the
// licence and third-party notices. Its own module keeps nfpm out of the
// product's go.mod. `make package` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	root := flag.String("root", "../..", "the Bulwark source tree")
	bin := flag.String("bin", "../../bin", "`directory` holding the built bulwark and bulwark-agent (linux/amd64)")
	version := flag.String("version", "0.1.0", "package version")
	out := flag.String("out", "../../dist", "`directory` to write the .deb files to")
	oci := flag.String("oci", "", "also write the container images of static binaries to this OCI layout `directory`")
	source := flag.String("source", "https://github.com/bulwarkhq/bulwark", "the source repository, for the images' labels")
	flag.Parse()
	debs, err := Build(*root, *bin, *version, *out)
	if err == nil && *oci != "" {
		err = Images(*root, *bin, *version, *source, *oci)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	for _, d := range debs {
		fmt.Println(d)
	}
	if *oci != "" {
		fmt.Println(*oci)
	}
}

// Images writes the collector's and the agent's images to an OCI layout;
// each carries the licence and the third-party notices.
func Images(root, bin, version, source, dir string) error {
	imgs := map[string]v1.Image{}
	for _, spec := range Specs(bin) {
		spec.Docs = map[string]string{"copyright": filepath.Join(root, "LICENSE"), "THIRD_PARTY_NOTICES": filepath.Join(root, "THIRD_PARTY_NOTICES")}
		img, err := Image(spec, version, source, "/etc/ssl/certs/ca-certificates.crt")
		if err != nil {
			return err
		}
		imgs[spec.Name] = img
	}
	return WriteLayout(dir, version, imgs)
}

// Specs are the two images.
func Specs(bin string) []ImageSpec {
	return []ImageSpec{
		{Name: "bulwark", Binary: filepath.Join(bin, "bulwark"), Port: "9400/tcp", StateDir: "/var/lib/bulwark",
			Entrypoint: []string{"/usr/bin/bulwark", "collector", "--config", "/etc/bulwark/bulwark.yml"}},
		{Name: "bulwark-agent", Binary: filepath.Join(bin, "bulwark-agent"), Port: "9401/tcp", StateDir: "/var/lib/bulwark-agent",
			Entrypoint: []string{"/usr/bin/bulwark-agent", "run", "--config", "/etc/bulwark/bulwark-agent.yml", "--web.listen-address", ":9401"}},
	}
}
