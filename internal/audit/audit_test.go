package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func chain(n int) []Entry {
	var out []Entry
	prev := ""
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		e := Entry{Seq: int64(i), At: at.Add(time.Duration(i) * time.Minute), User: "vera", Action: "silence.add",
			Detail: json.RawMessage(`{"target": "grid-portal", "for": "2h"}`)}
		e.Chain(prev)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// Issue 11: any change to a signed export is found, and the first entry
// that does not hold is named.
func TestVerify(t *testing.T) {
	key, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "state", "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	if err := Verify(Sign(chain(5), key, now), key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("an intact export: %v", err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	for name, tc := range map[string]struct {
		tamper func(x *Export)
		want   string
	}{
		"detail altered": {func(x *Export) { x.Entries[2].Detail = json.RawMessage(`{"target": "grid-portal", "for": "200h"}`) }, "entry 3 was altered"},
		"altered and rehashed": {func(x *Export) {
			x.Entries[2].User = "mallory"
			x.Entries[2].Hash = x.Entries[2].Sum()
		}, "entry 4 does not chain"},
		"entry removed": {func(x *Export) { x.Entries = append(x.Entries[:1], x.Entries[2:]...) }, "entry 3 follows entry 1"},
		"tail cut":      {func(x *Export) { x.Entries = x.Entries[:4] }, "the signature does not match"},
		"time changed":  {func(x *Export) { x.Exported = x.Exported.Add(time.Hour) }, "the signature does not match"},
		"re-signed":     {func(x *Export) { *x = *Sign(x.Entries, other, x.Exported) }, "signed with another key"},
		"not an export": {func(x *Export) { x.Kind = "something" }, "not a Bulwark audit export"},
	} {
		x := Sign(chain(5), key, now)
		tc.tamper(x)
		err := Verify(x, key.Public().(ed25519.PublicKey))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// The key is created once, kept private, and read back the same.
func TestSigningKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("read back: %v, equal %v", err, k1.Equal(k2))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", st.Mode(), err)
	}
}
