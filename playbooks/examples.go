package playbooks

import (
	"embed"
	"io/fs"
)

//go:embed examples/*.yml examples/*.token
var examples embed.FS

// Examples are the shipped example playbooks (examples/*.yml, and the
// placeholder token file one names), for the demo to run.
func Examples() fs.FS {
	sub, _ := fs.Sub(examples, "examples") // a constant, valid path
	return sub
}
