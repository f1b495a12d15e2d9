package zone

import (
	"slices"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/attrib"
)

// ungluedEntry is the unglued name servers of one snapshot file under one
// catalog.
type ungluedEntry struct {
	key   reportKey // file, size, mod and catalog only
	names []string
}

// Unglued lists, sorted and distinct, the name servers of origin's newest
// snapshot that carry no glue and that the catalog in use cannot name (see
// Snapshot.Unglued). It is computed once per snapshot and catalog, by
// streaming the snapshot: agents ask for it on every poll.
func (rs *Reports) Unglued(origin string) ([]string, error) {
	path, fi, err := rs.opts.Store.latestFile(origin)
	if err != nil {
		return nil, err
	}
	cat := rs.opts.Attributor.CatalogInUse()
	k := reportKey{file: path, size: fi.Size(), mod: fi.ModTime(), catalog: cat}
	rs.ungluedMu.Lock() // one computation at a time; the others wait for it
	defer rs.ungluedMu.Unlock()
	if e, ok := rs.unglued[origin]; ok && e.key == k {
		return e.names, nil
	}
	names, err := streamUnglued(path, cat)
	if err != nil {
		return nil, err
	}
	rs.ungluedN++
	rs.unglued[origin] = ungluedEntry{key: k, names: names}
	return names, nil
}

func streamUnglued(path string, cat *attrib.Catalog) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	_, err := streamSnapshot(path, func(d *Delegation) error {
		for _, ns := range d.NS {
			name := strings.ToLower(strings.TrimSuffix(ns, "."))
			if seen[name] || len(d.Glue[ns]) > 0 {
				continue
			}
			seen[name] = true
			if _, _, ok := cat.ByName("ns", name); !ok {
				out = append(out, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}
