package console

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

// recordingMux keeps the patterns the console registers.
type recordingMux struct {
	*http.ServeMux
	patterns []string
}

func (m *recordingMux) HandleFunc(p string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, p)
	m.ServeMux.HandleFunc(p, h)
}

// serveConsole serves a console on an empty store at 127.0.0.1 and
// returns its base URL and the paths of its pages, as registered.
func serveConsole(t *testing.T) (string, []string) {
	t.Helper()
	c, err := New(Options{Engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 1000, Timeout: time.Second}),
		Queryable: storage.QueryableFunc(func(int64, int64) (storage.Querier, error) { return storage.NoopQuerier(), nil }),
		Alerting: func() AlertState {
			return AlertState{Enabled: true, Alerts: []Alert{{Name: "X", State: "firing", Severity: "page"}}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := &recordingMux{ServeMux: http.NewServeMux()}
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	var paths []string
	for _, p := range mux.patterns {
		_, path, _ := strings.Cut(p, " ")
		paths = append(paths, strings.ReplaceAll(path, "{$}", ""))
	}
	if len(paths) < 4 {
		t.Fatalf("console pages: %v", paths)
	}
	return srv.URL, paths
}

var (
	styleAttrRE = regexp.MustCompile(`(?i)<[^>]+\s(style|on[a-z]+)\s*=`)
	cspStyleRE  = regexp.MustCompile(`style-src ([^;]+)`)
)

// Issue 19 (extra): every console page, as registered, carries a strict
// Content-Security-Policy (no script, style sheets by hash, no framing),
// nosniff and no-referrer; each style sheet a page holds is one the
// policy lets through, and no page has a script, a style attribute or an
// event handler, which the policy would block.
func TestEveryPageCarriesSecurityHeaders(t *testing.T) {
	base, paths := serveConsole(t)
	for _, p := range paths {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'none'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", p, csp, want)
			}
		}
		if resp.StatusCode != 200 || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: %d %v", p, resp.StatusCode, h)
		}
		page := string(b)
		allowed := cspStyleRE.FindStringSubmatch(csp)
		sheets := styleRE.FindAllStringSubmatch(page, -1)
		if len(sheets) == 0 || allowed == nil || strings.Contains(allowed[1], "unsafe") {
			t.Errorf("%s: %d style sheets, style-src %v", p, len(sheets), allowed)
		}
		for _, s := range sheets {
			sum := sha256.Sum256([]byte(s[1]))
			if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; allowed == nil || !strings.Contains(allowed[1], h) {
				t.Errorf("%s: a style sheet (%s) is not in the policy", p, h)
			}
		}
		if strings.Contains(strings.ToLower(page), "<script") || styleAttrRE.MatchString(page) {
			t.Errorf("%s: a script, a style attribute or an event handler: %s", p, styleAttrRE.FindString(page))
		}
	}
}

// TestConsoleInChromium: each page renders in Chromium under its policy:
// its style sheet applies (the body's background is the sheet's), and the
// browser reports no Content-Security-Policy violation.
func TestConsoleInChromium(t *testing.T) {
	chromium := testbin.Need(t, "chromium", "chromium")
	base, paths := serveConsole(t)
	actx, cancel := chromedp.NewExecAllocator(t.Context(), chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var violations []string
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*log.EventEntryAdded); ok && strings.Contains(e.Entry.Text, "Content Security Policy") {
			mu.Lock()
			violations = append(violations, e.Entry.URL+": "+e.Entry.Text)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("nav"))); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
		if err != nil {
			t.Fatal(err)
		}
		if bg != "rgb(246, 247, 249)" {
			t.Errorf("%s: the body's background is %q: its style sheet did not apply", p, bg)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("policy violations: %q", violations)
	}
}
