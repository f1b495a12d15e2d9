package attrib

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultTrustStore is Debian's bundle of the Mozilla root store (package
// ca-certificates), used when the configuration names none and it exists.
const DefaultTrustStore = "/etc/ssl/certs/ca-certificates.crt"

// Bounds of a trust store: it is input too.
const (
	maxTrustStoreBytes = 32 << 20
	maxRoots           = 20000
)

// Root is one trusted root certificate, as the trust store states it.
type Root struct {
	Subject      string // its common name
	Organization string
	Country      string
	KeyID        string // subject key identifier, hex (SHA-1 of the key when the certificate has none)
	SPKISHA256   string // hex
	SHA256       string // of the certificate, hex
}

// TrustStore indexes the roots a machine trusts: every CA organisation
// they name is attributable to the country its root states.
type TrustStore struct {
	Source  string
	Skipped int // certificates that did not parse
	roots   []Root
	byKey   map[string]*Root // KeyID, SPKISHA256, SHA256
	byOrg   map[string]*Root // lower-case organisation
}

// LoadTrustStore reads a PEM bundle, or every PEM file of a directory
// (/etc/ssl/certs), at most 32 MiB and 20,000 certificates.
func LoadTrustStore(path string) (*TrustStore, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	ts := &TrustStore{Source: path, byKey: map[string]*Root{}, byOrg: map[string]*Root{}}
	files := []string{path}
	if st.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".pem") || strings.HasSuffix(n, ".crt")) {
				files = append(files, filepath.Join(path, n))
			}
		}
	}
	budget := int64(maxTrustStoreBytes)
	for _, f := range files {
		b, err := readBounded(f, budget)
		if err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
		budget -= int64(len(b))
		if err := ts.add(b); err != nil {
			return nil, fmt.Errorf("trust store %s: %w", f, err)
		}
	}
	if len(ts.roots) == 0 {
		return nil, fmt.Errorf("trust store %s: no certificate in it", path)
	}
	ts.index()
	return ts, nil
}

func readBounded(path string, budget int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, budget+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > budget {
		return nil, fmt.Errorf("%s: larger than the %d MiB a trust store may hold", path, maxTrustStoreBytes>>20)
	}
	return b, nil
}

// ParseTrustStore reads PEM text (for tests and fuzzing).
func ParseTrustStore(b []byte) (*TrustStore, error) {
	if len(b) > maxTrustStoreBytes {
		return nil, errors.New("trust store: too large")
	}
	ts := &TrustStore{byKey: map[string]*Root{}, byOrg: map[string]*Root{}}
	if err := ts.add(b); err != nil {
		return nil, err
	}
	ts.index()
	return ts, nil
}

func (ts *TrustStore) add(b []byte) error {
	for der, rest, ok := nextCert(b); ok; der, rest, ok = nextCert(rest) {
		if len(ts.roots) >= maxRoots {
			return fmt.Errorf("more than %d certificates", maxRoots)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			ts.Skipped++
			continue
		}
		ts.roots = append(ts.roots, rootOf(c))
	}
	return nil
}

var (
	pemBegin = []byte("-----BEGIN CERTIFICATE-----")
	pemEnd   = []byte("-----END CERTIFICATE-----")
)

// nextCert finds the next PEM certificate block of b and returns its DER
// (nil when its base64 is broken: counted as skipped) and what follows.
// It scans forward only, so a hostile bundle costs time linear in its
// size (encoding/pem rescans from every BEGIN line).
func nextCert(b []byte) (der, rest []byte, ok bool) {
	i := bytes.Index(b, pemBegin)
	if i < 0 {
		return nil, nil, false
	}
	b = b[i+len(pemBegin):]
	j := bytes.Index(b, pemEnd)
	if j < 0 {
		return nil, nil, false
	}
	body, rest := b[:j], b[j+len(pemEnd):]
	if k := bytes.LastIndex(body, pemBegin[:11]); k >= 0 { // a BEGIN with no END before the next one
		body = body[k:]
		if l := bytes.IndexByte(body, '\n'); l >= 0 {
			body = body[l:]
		}
	}
	clean := make([]byte, 0, len(body))
	for _, c := range body {
		if c != '\n' && c != '\r' && c != ' ' && c != '\t' {
			clean = append(clean, c)
		}
	}
	der = make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
	n, err := base64.StdEncoding.Decode(der, clean)
	if err != nil {
		return []byte{}, rest, true
	}
	return der[:n], rest, true
}

func rootOf(c *x509.Certificate) Root {
	first := func(s []string) string {
		if len(s) > 0 {
			return s[0]
		}
		return ""
	}
	keyID := c.SubjectKeyId
	if len(keyID) == 0 { // RFC 5280 4.2.1.2, method 1
		sum := sha1.Sum(c.RawSubjectPublicKeyInfo)
		keyID = sum[:]
	}
	spki, whole := sha256.Sum256(c.RawSubjectPublicKeyInfo), sha256.Sum256(c.Raw)
	return Root{Subject: c.Subject.CommonName, Organization: first(c.Subject.Organization), Country: strings.ToUpper(first(c.Subject.Country)),
		KeyID: hex.EncodeToString(keyID), SPKISHA256: hex.EncodeToString(spki[:]), SHA256: hex.EncodeToString(whole[:])}
}

func (ts *TrustStore) index() {
	sort.SliceStable(ts.roots, func(i, j int) bool { return ts.roots[i].Subject < ts.roots[j].Subject })
	for i := range ts.roots {
		r := &ts.roots[i]
		for _, k := range []string{r.KeyID, r.SPKISHA256, r.SHA256} {
			if _, dup := ts.byKey[k]; !dup {
				ts.byKey[k] = r
			}
		}
		if o := strings.ToLower(r.Organization); o != "" && len(r.Country) == 2 {
			if _, dup := ts.byOrg[o]; !dup {
				ts.byOrg[o] = r
			}
		}
	}
}

// Len is the number of roots.
func (ts *TrustStore) Len() int { return len(ts.roots) }

// ByKey finds a root by key identifier, SPKI SHA-256 or certificate SHA-256 (hex).
func (ts *TrustStore) ByKey(k string) (Root, bool) {
	r, ok := ts.byKey[strings.ToLower(k)]
	if !ok {
		return Root{}, false
	}
	return *r, true
}

// ByOrganization finds a root whose subject names organisation org (any case).
func (ts *TrustStore) ByOrganization(org string) (Root, bool) {
	r, ok := ts.byOrg[strings.ToLower(strings.TrimSpace(org))]
	if !ok {
		return Root{}, false
	}
	return *r, true
}

// Organizations lists the CA organisations the store names, sorted.
func (ts *TrustStore) Organizations() []string {
	out := make([]string, 0, len(ts.byOrg))
	for _, r := range ts.byOrg {
		out = append(out, r.Organization)
	}
	sort.Strings(out)
	return out
}
