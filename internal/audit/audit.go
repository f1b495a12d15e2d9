// Package audit makes a log tamper-evident: each entry carries the hash
// of the one before it, and an export is signed with the collector's
// Ed25519 key, so that altering, removing or inserting an entry, or
// re-signing without the key, is found by Verify, which names the first
// entry that does not hold.
package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Entry is one recorded action.
type Entry struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	User   string          `json:"user"`
	Action string          `json:"action"`
	Detail json.RawMessage `json:"detail"`
	Prev   string          `json:"prev"` // hex SHA-256 of the entry before ("" for the first)
	Hash   string          `json:"hash"` // hex SHA-256 of this entry, Prev included
}

// Sum computes e's hash from its content and Prev.
func (e *Entry) Sum() string {
	// A fixed layout with lengths: no two entries share an encoding.
	b, _ := json.Marshal([]any{e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.User, e.Action, compact(e.Detail), e.Prev})
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func compact(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Chain sets e's Prev to prev and computes its Hash.
func (e *Entry) Chain(prev string) {
	e.Prev = prev
	e.Hash = e.Sum()
}

// Export is a signed copy of a log.
type Export struct {
	Kind      string    `json:"kind"` // one of Kinds
	Exported  time.Time `json:"exported"`
	Entries   []Entry   `json:"entries"`
	PublicKey string    `json:"public_key"` // base64 Ed25519
	// Signature is over the last entry's hash, the count and the export
	// time: the chain binds every earlier entry.
	Signature string `json:"signature"`
}

func (x *Export) signed() []byte {
	head := ""
	if n := len(x.Entries); n > 0 {
		head = x.Entries[n-1].Hash
	}
	return []byte(fmt.Sprintf("%s\n%s\n%d\n%s", x.Kind, head, len(x.Entries), x.Exported.UTC().Format(time.RFC3339Nano)))
}

// Kinds returns the kinds of signed exports, each with what it is called:
// an audit log or a playbook run's timeline, and a drill report (its parts
// as entries).
func Kinds() map[string]string {
	return map[string]string{"bulwark-audit": "audit export", "bulwark-drill-report": "drill report"}
}

// Sign signs an export of entries with key.
func Sign(entries []Entry, key ed25519.PrivateKey, now time.Time) *Export {
	return SignKind("bulwark-audit", entries, key, now)
}

// SignKind signs an export of the given kind (one of Kinds).
func SignKind(kind string, entries []Entry, key ed25519.PrivateKey, now time.Time) *Export {
	x := &Export{Kind: kind, Exported: now.UTC(), Entries: entries,
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))}
	x.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, x.signed()))
	return x
}

// Problem says which entry fails verification, and how.
type Problem struct {
	Seq int64 // 0: the export as a whole
	Msg string
	Err error // the cause, when there is one (ErrNotCanonical)
}

func (p *Problem) Error() string {
	if p.Seq == 0 {
		return "audit: " + p.Msg
	}
	return fmt.Sprintf("audit: entry %d %s", p.Seq, p.Msg)
}

func (p *Problem) Unwrap() error { return p.Err }

// Verify checks the chain and the signature, and that each entry's detail
// is the JSON its hash covers, to the byte but for space (see canonical):
// a detail that reads two ways is an alteration even where its hash
// holds. trusted, when given, is the
// public key the export must be signed with (otherwise the export's own,
// which proves integrity but not origin). It names the first entry that
// does not hold.
func Verify(x *Export, trusted ed25519.PublicKey) error {
	if _, ok := Kinds()[x.Kind]; !ok {
		return &Problem{Msg: fmt.Sprintf("kind %q is not a Bulwark audit export or report", x.Kind)}
	}
	prev := ""
	var seq int64
	for i := range x.Entries {
		e := &x.Entries[i]
		if i > 0 && e.Seq != seq+1 {
			return &Problem{Seq: e.Seq, Msg: fmt.Sprintf("follows entry %d: an entry is missing or out of order", seq)}
		}
		seq = e.Seq
		if e.Prev != prev {
			return &Problem{Seq: e.Seq, Msg: "does not chain to the entry before it (one was removed, inserted or altered)"}
		}
		if len(e.Detail) > 0 {
			if err := canonical(e.Detail); err != nil {
				return &Problem{Seq: e.Seq, Msg: fmt.Sprintf("has a detail that reads two ways (%v): it was altered", err), Err: err}
			}
		}
		if e.Sum() != e.Hash {
			return &Problem{Seq: e.Seq, Msg: fmt.Sprintf("was altered (%s by %s at %s): its content does not match its hash", e.Action, e.User, e.At.UTC().Format(time.RFC3339))}
		}
		prev = e.Hash
	}
	pub, err := base64.StdEncoding.DecodeString(x.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return &Problem{Msg: "the export's public key is not an Ed25519 key"}
	}
	if trusted != nil && !ed25519.PublicKey(pub).Equal(trusted) {
		return &Problem{Msg: "signed with another key than the one trusted"}
	}
	sig, err := base64.StdEncoding.DecodeString(x.Signature)
	if err != nil || !ed25519.Verify(pub, x.signed(), sig) {
		return &Problem{Msg: "the signature does not match (the export was altered after signing: entries appended or cut, or its time changed)"}
	}
	return nil
}

// LoadOrCreateKey reads the Ed25519 key at path, creating it (0600) the
// first time.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		seed, derr := base64.StdEncoding.DecodeString(string(b))
		if derr != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("audit: signing key %s is not a base64 Ed25519 seed", path)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("audit: %w", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key.Seed())), 0o600); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return key, nil
}
