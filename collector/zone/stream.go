package zone

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// latestFile is the newest snapshot file of origin and its file info.
func (s *Store) latestFile(origin string) (string, os.FileInfo, error) {
	dir, err := s.zoneDir(origin)
	if err != nil {
		return "", nil, fmt.Errorf("zone store: %w", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		return "", nil, fmt.Errorf("zone store: no import of %s yet: run `bulwark zone import FILE`", origin)
	}
	p := slices.Max(files)
	fi, err := os.Stat(p)
	if err != nil {
		return "", nil, fmt.Errorf("zone store: %w", err)
	}
	return p, fi, nil
}

// streamSnapshot reads a stored snapshot file one delegation at a time:
// fn sees each (valid until it returns) and the header is returned with
// Delegations left empty. Memory does not grow with the zone.
func streamSnapshot(path string, fn func(d *Delegation) error) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("zone store: %w", err)
	}
	defer f.Close()
	head, err := decodeStream(bufio.NewReaderSize(f, 256<<10), fn)
	if err != nil {
		return nil, fmt.Errorf("zone store: %s: %w", path, err)
	}
	return head, nil
}

func decodeStream(r io.Reader, fn func(d *Delegation) error) (*Snapshot, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	head := &Snapshot{}
	fields := map[string]any{"origin": &head.Origin, "file": &head.File, "exported": &head.Exported,
		"imported": &head.Imported, "records": &head.Records, "ns_records": &head.NSRecords, "ds_records": &head.DSRecords}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if key != "delegations" {
			v, ok := fields[key]
			if !ok {
				v = new(json.RawMessage)
			}
			if err := dec.Decode(v); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, err
		}
		if tok == nil {
			continue // null
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, errors.New("delegations: not a list")
		}
		for dec.More() {
			var d Delegation
			if err := dec.Decode(&d); err != nil {
				return nil, fmt.Errorf("delegations: %w", err)
			}
			if err := fn(&d); err != nil {
				return nil, err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	return head, expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, found %v", want, tok)
	}
	return nil
}
