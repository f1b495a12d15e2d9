// Command gen writes THIRD_PARTY_NOTICES at the module root (run from it:
// `go run ./deploy/notices/gen`; `make notices`).
package main

import (
	"fmt"
	"os"

	"github.com/bulwarkhq/bulwark/deploy/notices"
)

func main() {
	b, err := notices.Generate(".")
	if err == nil {
		err = os.WriteFile("THIRD_PARTY_NOTICES", b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
