// Command pack makes the Grafana plugin archive of Bulwark's data source:
// bulwarkhq-bulwark-datasource-VERSION.zip holding the folder Grafana
// loads (plugin.json with its version and date, module.js, img/, the back
// end as gpx_bulwark_linux_amd64). `make plugin` builds the back end and
// runs it. The plugin is not signed by Grafana: allow it with
// allow_loading_unsigned_plugins (see dashboards/README.md).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bulwarkhq/bulwark/dashboards/plugin/pack/archive"
)

func main() {
	src := flag.String("src", "dashboards/plugin", "the plugin's front-end `directory`")
	bin := flag.String("backend", "", "the built back end, for linux/amd64")
	version := flag.String("version", "0.1.0-dev", "the plugin's version")
	out := flag.String("out", "dist", "`directory` to write the zip to")
	flag.Parse()
	zip, err := archive.Pack(*src, *bin, *version, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pack:", err)
		os.Exit(1)
	}
	fmt.Println(zip)
}
