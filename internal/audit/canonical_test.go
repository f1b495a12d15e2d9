package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// signedDetails signs a chain whose entries carry details, each as
// json.Marshal writes it, as the collector does.
func signedDetails(t testing.TB, key ed25519.PrivateKey, details ...any) *Export {
	t.Helper()
	var entries []Entry
	prev := ""
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i, d := range details {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		e := Entry{Seq: int64(i + 1), At: at.Add(time.Duration(i) * time.Minute), User: "vera", Action: "incident.ack", Detail: b}
		e.Chain(prev)
		prev = e.Hash
		entries = append(entries, e)
	}
	return Sign(entries, key, at.Add(time.Hour))
}

// Issue 19 item 10: a detail that reads two ways is refused even though
// its hash holds: a key inserted before the real one (the decoder that
// hashes keeps the last, a reader sees the first), at any depth or in
// another case, a number that decodes to the one hashed, an escape or an
// invalid byte that decodes to the character hashed. A legitimate export
// still verifies after indenting and HTML-escaping, with struct details
// whose keys are not sorted.
func TestVerifyRefusesDetailThatReadsTwoWays(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	type ack struct {
		Target   string `json:"target"`
		GroupKey string `json:"groupKey"`
		Note     string `json:"note"`
	}
	details := []any{
		map[string]any{"groupKey": "{}:{classification=\"down\"}", "by": "vera"},
		ack{Target: "tax-office", GroupKey: "real", Note: "<b>on it</b> & more"},
		map[string]any{"n": 9007199254740992, "nested": map[string]any{"k": "v"}, "s": "\ufffd"},
	}
	good := signedDetails(t, key, details...)
	if err := Verify(good, pub); err != nil {
		t.Fatalf("intact: %v", err)
	}
	indented, _ := json.MarshalIndent(good, "", "    ")
	x, err := DecodeExport(indented)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(x, pub); err != nil {
		t.Fatalf("intact, indented: %v", err)
	}
	for name, tc := range map[string]struct {
		entry    int
		old, new string
	}{
		"key inserted before the real one": {1, `{"target"`, `{"groupKey":"FORGED","target"`},
		"key inserted, spaced":             {1, `{"target"`, `{ "groupKey" : "FORGED", "target"`},
		"key twice, nested":                {2, `{"k":"v"}`, `{"k":"FORGED","k":"v"}`},
		"key twice, another case":          {1, `{"target"`, `{"GroupKey":"FORGED","target"`},
		"number that rounds to the hashed": {2, `9007199254740992`, `9007199254740993`},
		"number written another way":       {2, `9007199254740992`, `9.007199254740992e15`},
		"escape for a plain character":     {1, `"tax-office"`, `"\u0074ax-office"`},
		"invalid byte for U+FFFD":          {2, "\"\ufffd\"", "\"\xff\""},
	} {
		x := signedDetails(t, key, details...)
		d := &x.Entries[tc.entry].Detail
		if !bytes.Contains(*d, []byte(tc.old)) {
			t.Fatalf("%s: %s lacks %s", name, *d, tc.old)
		}
		*d = bytes.Replace(*d, []byte(tc.old), []byte(tc.new), 1)
		err := Verify(x, pub)
		if !errors.Is(err, ErrNotCanonical) || !strings.Contains(err.Error(), "entry 2 has a detail that reads two ways") && !strings.Contains(err.Error(), "entry 3 has a detail") {
			t.Errorf("%s: %s: %v", name, *d, err)
		}
	}
}

// Issue 19 item 10, the export as a whole: a field twice in an entry or
// in the export (of which encoding/json keeps the last) is refused when
// the export is decoded, before Verify sees it.
func TestDecodeExportRefusesDuplicateKeys(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	b, _ := json.MarshalIndent(signedDetails(t, key, map[string]string{"a": "b"}, map[string]string{"c": "d"}), "", "  ")
	if _, err := DecodeExport(b); err != nil {
		t.Fatalf("intact: %v", err)
	}
	for name, tc := range map[string]struct{ old, new string }{
		"user twice in an entry":  {`"user": "vera"`, `"user": "mallory", "user": "vera"`},
		"user in another case":    {`"user": "vera"`, `"User": "mallory", "user": "vera"`},
		"public key twice":        {`"public_key"`, `"public_key": "AAAA", "public_key"`},
		"entries twice":           {`"entries"`, `"entries": [], "entries"`},
		"data after the export":   {"\n}", "\n}{}"},
		"unknown field":           {`"kind"`, `"note": "x", "kind"`},
		"key with a long s (ſeq)": {`"seq": 1`, `"ſeq": 7, "seq": 1`},
	} {
		if !strings.Contains(string(b), tc.old) {
			t.Fatalf("%s: export lacks %s", name, tc.old)
		}
		in := strings.Replace(string(b), tc.old, tc.new, 1)
		if strings.HasSuffix(tc.old, "}") {
			in = strings.TrimSuffix(string(b), "}") + strings.TrimPrefix(tc.new, "\n")
		}
		if _, err := DecodeExport([]byte(in)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeExport: any bytes as an export decode and verify without a
// panic, and an export accepted is accepted again once re-encoded: what
// verifies reads one way.
func FuzzDecodeExport(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	b, _ := json.Marshal(signedDetails(f, key, map[string]string{"groupKey": "real"}))
	f.Add(b)
	f.Add(bytes.Replace(b, []byte(`{\"groupKey\"`), []byte(`{\"groupKey\":\"FORGED\",\"groupKey\"`), 1))
	f.Add(bytes.Replace(b, []byte(`{"groupKey"`), []byte(`{"groupKey":"FORGED","groupKey"`), 1))
	f.Add(bytes.Replace(b, []byte(`"user":"vera"`), []byte(`"user":"mallory","user":"vera"`), 1))
	f.Add([]byte(`{"kind":"bulwark-audit","entries":[{"seq":1,"detail":{"a":1e400}}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		x, err := DecodeExport(in)
		if err != nil || Verify(x, nil) != nil {
			return
		}
		again, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := DecodeExport(again)
		if err != nil {
			t.Fatalf("re-encoded, refused: %v", err)
		}
		if err := Verify(y, nil); err != nil {
			t.Fatalf("re-encoded, does not verify: %v", err)
		}
	})
}
