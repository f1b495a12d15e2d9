package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrNotCanonical is returned for JSON that reads two ways: a key twice
// in one object (a decoder keeps one of them, a reader may see the
// other), or text that is not the encoding its hash covers.
var ErrNotCanonical = errors.New("not canonical JSON")

// frame is one open object or array of a token walk.
type frame struct {
	object bool
	n      int             // members or elements so far
	keys   map[string]bool // an object's keys, case folded
}

// walkJSON reads one JSON value token by token and returns its canonical
// encoding: no insignificant space, each string as encoding/json writes
// it, each number as the float64 it decodes to is written (what Sum
// hashes), keys in their order. A key twice in one object, at any depth,
// is refused; keys are compared case-folded, as encoding/json matches
// them to fields.
func walkJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []byte
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotCanonical, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out = append(out, byte(d))
			continue
		}
		key := top != nil && top.object && top.n%2 == 0 // members count key and value
		if top != nil {
			if top.n > 0 && (!top.object || key) {
				out = append(out, ',')
			}
			top.n++
		}
		if key {
			k := tok.(string) // the decoder allows only a string here
			fold := strings.ToLower(strings.ToUpper(k))
			if top.keys[fold] {
				return nil, fmt.Errorf("%w: the key %q twice in one object", ErrNotCanonical, k)
			}
			top.keys[fold] = true
			b, _ := json.Marshal(k)
			out = append(append(out, b...), ':')
			continue
		}
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, &frame{object: v == '{', keys: map[string]bool{}})
			out = append(out, byte(v))
		case json.Number:
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return nil, fmt.Errorf("%w: the number %s: %w", ErrNotCanonical, v, err)
			}
			b, _ := json.Marshal(f)
			out = append(out, b...)
		default: // string, bool, nil
			b, _ := json.Marshal(v)
			out = append(out, b...)
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%w: unexpected end", ErrNotCanonical)
	}
	return out, nil
}

// canonical checks that raw is exactly the JSON its hash covers, but for
// insignificant space and HTML-escaping (both of which an export's
// encoder may change): no key twice, no escape where the character would
// do, no number that decodes to another.
func canonical(raw []byte) error {
	want, err := walkJSON(raw)
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return fmt.Errorf("%w: %w", ErrNotCanonical, err)
	}
	var got bytes.Buffer
	json.HTMLEscape(&got, compact.Bytes())
	if !bytes.Equal(got.Bytes(), want) {
		i := 0
		for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
			i++
		}
		return fmt.Errorf("%w: at byte %d of %q, %q should read %q", ErrNotCanonical, i, got.Bytes(),
			got.Bytes()[i:min(got.Len(), i+12)], want[i:min(len(want), i+12)])
	}
	return nil
}

// DecodeExport decodes a signed export strictly: a key twice anywhere in
// it (two "user" fields in an entry, say, of which the decoder would keep
// the last) or a field Export does not have is refused. Verify it next.
func DecodeExport(b []byte) (*Export, error) {
	if _, err := walkJSON(b); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var x Export
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if dec.More() {
		return nil, errors.New("audit: data after the export")
	}
	return &x, nil
}
