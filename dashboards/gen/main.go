// Command gen writes Bulwark's dashboards to dashboards/json (run by
// `go generate ./dashboards`, from that directory).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulwarkhq/bulwark/dashboards"
)

func main() {
	if err := run("json"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	boards, err := dashboards.All()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, b := range boards {
		j, err := b.JSON()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, b.File), j, 0o644); err != nil {
			return err
		}
	}
	return nil
}
