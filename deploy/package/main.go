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
)

func main() {
	root := flag.String("root", "../..", "the Bulwark source tree")
	bin := flag.String("bin", "../../bin", "`directory` holding the built bulwark and bulwark-agent (linux/amd64)")
	version := flag.String("version", "0.1.0", "package version")
	out := flag.String("out", "../../dist", "`directory` to write the .deb files to")
	flag.Parse()
	debs, err := Build(*root, *bin, *version, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	for _, d := range debs {
		fmt.Println(d)
	}
}
