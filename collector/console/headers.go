package console

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// styleRE finds a template's style sheets; their text is static (no
// template action), so it reaches the page byte for byte.
var styleRE = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// contentSecurityPolicy allows the console what it uses and nothing else:
// pages, links and the meta refresh from itself, the style sheets of its
// own templates by their hashes, no script at all (the console has none),
// no plugin, no base, no framing by another site.
func contentSecurityPolicy(templates fs.FS) (string, error) {
	files, err := fs.Glob(templates, "templates/*.html")
	if err != nil {
		return "", err
	}
	var hashes []string
	for _, f := range files {
		b, err := fs.ReadFile(templates, f)
		if err != nil {
			return "", err
		}
		for _, m := range styleRE.FindAllSubmatch(b, -1) {
			if strings.Contains(string(m[1]), "{{") {
				return "", fmt.Errorf("%s: a style sheet with a template action cannot be hashed for the Content-Security-Policy", f)
			}
			sum := sha256.Sum256(m[1])
			hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		}
	}
	slices.Sort(hashes)
	style := "'none'"
	if hashes = slices.Compact(hashes); len(hashes) > 0 {
		style = strings.Join(hashes, " ")
	}
	return "default-src 'self'; script-src 'none'; style-src " + style +
		"; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'", nil
}

// secure sets the headers every console page carries.
func (c *Console) secure(h func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", c.csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP 2
		h(w, r)
	}
}
