package probe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"testing"
	"time"
)

// chain makes a root, an intermediate it signs and a leaf the
// intermediate signs.
func chain(t *testing.T) (root, inter, leaf *x509.Certificate) {
	t.Helper()
	mk := func(cn string, ca bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{cn + " Org"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key
	}
	root, rk := mk("Root", true, nil, nil)
	inter, ik := mk("Issuing", true, root, rk)
	leaf, _ = mk("leaf", false, inter, ik)
	return root, inter, leaf
}

// Issue 10: the issuing CA's root is named by its key id whatever the
// server sends: the leaf alone, the leaf and its intermediate, or the
// whole chain with the root.
func TestAnchorKeyID(t *testing.T) {
	root, inter, leaf := chain(t)
	want := hex.EncodeToString(root.SubjectKeyId)
	if want == "" {
		t.Fatal("the test root has no subject key id")
	}
	for name, served := range map[string][]*x509.Certificate{
		"leaf and intermediate": {leaf, inter},
		"whole chain":           {leaf, inter, root},
	} {
		if got := anchorKeyID(served); got != want {
			t.Errorf("%s: %q, want the root's %q", name, got, want)
		}
	}
	if got := anchorKeyID([]*x509.Certificate{leaf}); got != hex.EncodeToString(inter.SubjectKeyId) {
		t.Errorf("leaf alone: %q, want the intermediate's key id (the collector looks it up among roots)", got)
	}
	// A chain that names itself in a loop ends.
	loop := *inter
	loop.AuthorityKeyId = leaf.SubjectKeyId
	anchorKeyID([]*x509.Certificate{leaf, &loop})
}
