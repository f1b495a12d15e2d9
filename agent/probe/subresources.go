package probe

import (
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Subresource is a third-party host a page loads something from.
type Subresource struct {
	Kind string // script, link, img, iframe, form
	Host string
}

// maxSubresources bounds what one page may report.
const maxSubresources = 200

// Subresources parses HTML from r (with the tokenizer: no regex, no DOM
// kept in memory) and returns the distinct hosts other than the page's own
// that it loads scripts, stylesheets and links, images, frames or form
// targets from. Relative URLs resolve against base. At most
// maxSubresources are returned; truncated says when more were found.
func Subresources(r io.Reader, base *url.URL) (subs []Subresource, truncated bool) {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(1 << 20) // a single token may not hold more than 1 MiB
	seen := map[Subresource]bool{}
	pageHost := strings.ToLower(base.Hostname())
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return subs, truncated
		case html.StartTagToken, html.SelfClosingTagToken:
		default:
			continue
		}
		name, hasAttr := z.TagName()
		if !hasAttr {
			continue
		}
		var want string
		switch string(name) {
		case "script", "img", "iframe":
			want = "src"
		case "link":
			want = "href"
		case "form":
			want = "action"
		default:
			continue
		}
		for {
			key, val, more := z.TagAttr()
			if string(key) == want && len(val) > 0 {
				if h := hostOf(base, string(val)); h != "" && h != pageHost {
					s := Subresource{Kind: string(name), Host: h}
					if !seen[s] {
						if len(subs) >= maxSubresources {
							truncated = true
						} else {
							seen[s] = true
							subs = append(subs, s)
						}
					}
				}
			}
			if !more {
				break
			}
		}
	}
}

// hostOf resolves ref against base and returns its lower-case host for
// http(s) URLs, else "".
func hostOf(base *url.URL, ref string) string {
	u, err := base.Parse(strings.TrimSpace(ref))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if len(h) > 253 {
		return ""
	}
	return h
}
