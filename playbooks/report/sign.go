package report

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/bulwarkhq/bulwark/internal/audit"
)

// Kind is the kind of a signed JSON report.
const Kind = "bulwark-drill-report"

// Signed returns r as a signed export: its parts are hash-chained entries
// (first the drill with its verdict, then one per service, then the
// playbook timeline), so `bulwark verify` names the first part altered.
func Signed(r *Report, key ed25519.PrivateKey) (*audit.Export, error) {
	head := *r
	head.Services, head.Timeline = nil, nil
	var entries []audit.Entry
	add := func(action string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("report: sign: %w", err)
		}
		e := audit.Entry{Seq: int64(len(entries) + 1), At: r.Generated, User: "bulwark", Action: action, Detail: b}
		prev := ""
		if n := len(entries); n > 0 {
			prev = entries[n-1].Hash
		}
		e.Chain(prev)
		entries = append(entries, e)
		return nil
	}
	if err := add("drill "+r.Drill.ID, head); err != nil {
		return nil, err
	}
	for _, s := range r.Services {
		if err := add("service "+s.Target, s); err != nil {
			return nil, err
		}
	}
	for _, e := range r.Timeline {
		if err := add("timeline "+e.Run+" "+e.Action, e); err != nil {
			return nil, err
		}
	}
	return audit.SignKind(Kind, entries, key, r.Generated), nil
}

// FromSigned rebuilds the report from a signed export (verify it first).
func FromSigned(x *audit.Export) (*Report, error) {
	if x.Kind != Kind || len(x.Entries) == 0 {
		return nil, errors.New("report: not a signed drill report")
	}
	var r Report
	if err := json.Unmarshal(x.Entries[0].Detail, &r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, e := range x.Entries[1:] {
		var err error
		switch {
		case strings.HasPrefix(e.Action, "service "):
			var s Service
			err = json.Unmarshal(e.Detail, &s)
			r.Services = append(r.Services, s)
		default:
			var ev Event
			err = json.Unmarshal(e.Detail, &ev)
			r.Timeline = append(r.Timeline, ev)
		}
		if err != nil {
			return nil, fmt.Errorf("report: entry %d: %w", e.Seq, err)
		}
	}
	return &r, nil
}

// A text report (HTML or Markdown) ends with this comment, which signs
// every byte before it.
var trailerRE = regexp.MustCompile(`\n<!-- bulwark-signature key="([A-Za-z0-9+/=]+)" sig="([A-Za-z0-9+/=]+)" -->\n$`)

// SignText appends the signature trailer to an HTML or Markdown report.
func SignText(doc []byte, key ed25519.PrivateKey) []byte {
	sig := ed25519.Sign(key, doc)
	pub := key.Public().(ed25519.PublicKey)
	return fmt.Appendf(doc, "\n<!-- bulwark-signature key=%q sig=%q -->\n", base64.StdEncoding.EncodeToString(pub), base64.StdEncoding.EncodeToString(sig))
}

// ErrNoTrailer means the file has no signature trailer.
var ErrNoTrailer = errors.New("no Bulwark signature at the end of the file")

// VerifyText checks a signed HTML or Markdown report; trusted, when
// given, is the key it must be signed with.
func VerifyText(b []byte, trusted ed25519.PublicKey) error {
	loc := trailerRE.FindSubmatchIndex(b)
	if loc == nil {
		return ErrNoTrailer
	}
	doc := b[:loc[0]]
	pub, err1 := base64.StdEncoding.DecodeString(string(b[loc[2]:loc[3]]))
	sig, err2 := base64.StdEncoding.DecodeString(string(b[loc[4]:loc[5]]))
	if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize {
		return errors.New("report: the signature trailer is malformed")
	}
	if trusted != nil && !ed25519.PublicKey(pub).Equal(trusted) {
		return errors.New("report: signed with another key than the one trusted")
	}
	if !ed25519.Verify(pub, doc, sig) {
		return fmt.Errorf("report: the signature does not match: the report was altered after it was signed%s", firstChange(doc))
	}
	return nil
}

// firstChange cannot know the original, but a report names its drill:
// the message points the reader at it.
func firstChange(doc []byte) string {
	if m := regexp.MustCompile(`drill-\d{8}-\d{4}-[0-9a-f]{6}`).Find(doc); m != nil {
		return " (drill " + string(m) + "; fetch its signed JSON report to see which part)"
	}
	return ""
}
