package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// The console acts through the API's code paths: a silence added by the
// alerts page's form is the API's silence, by the logged-in operator, and
// logins, failures, actions and logouts are in the audit log. A viewer's
// form is refused by the server. Tokens keep working as before.
func TestConsoleLoginActsAndAudits(t *testing.T) {
	dir := t.TempDir()
	cheap := auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}
	ho, _ := auth.HashPassword("otto-password", cheap)
	hv, _ := auth.HashPassword("vera-password", cheap)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`data_dir: %s
users:
  - {id: otto, role: operator, password_hash: %q}
  - {id: vera, role: viewer, password_hash: %q}
  - {id: ada, role: admin, token_sha256: %s}
`, filepath.Join(dir, "data"), ho, hv, auth.Hash("admin-token"))), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	base := "http://" + app.Addr()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	do := func(method, path string, form url.Values, cookies ...*http.Cookie) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Accept", "text/html")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	cookieOf := func(resp *http.Response, name string) *http.Cookie {
		for _, c := range resp.Cookies() {
			if c.Name == name {
				return c
			}
		}
		return nil
	}
	login := func(user, password string) (*http.Response, *http.Cookie) {
		t.Helper()
		resp, body := do(http.MethodGet, "/login", nil)
		m := csrfRE.FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("login page: %d", resp.StatusCode)
		}
		resp, _ = do(http.MethodPost, "/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {password}}, cookieOf(resp, "bulwark_login"))
		return resp, cookieOf(resp, auth.SessionCookie)
	}
	page := func(c *http.Cookie) string {
		t.Helper()
		resp, body := do(http.MethodGet, "/alerts", nil, c)
		m := csrfRE.FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("alerts page: %d", resp.StatusCode)
		}
		return m[1]
	}

	// A browser without a session is sent to the login page; a tool gets 401 as before.
	if resp, _ := do(http.MethodGet, "/alerts", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Falerts" {
		t.Errorf("anonymous browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, err := http.Get(base + "/alerts"); err != nil || resp.StatusCode != 401 {
		t.Errorf("anonymous tool: %v %v", resp.StatusCode, err)
	}
	if resp, _ := login("otto", "not-the-password"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	resp, otto := login("otto", "otto-password")
	if resp.StatusCode != http.StatusSeeOther || otto == nil {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	_, vera := login("vera", "vera-password")
	ottoCSRF, veraCSRF := page(otto), page(vera)
	silence := func(tok string) url.Values {
		return url.Values{"csrf": {tok}, "match": {`target="tax-office"`}, "for": {"2h"}, "comment": {"vendor maintenance"}}
	}
	if resp, _ := do(http.MethodPost, "/alerts/silence", silence(veraCSRF), vera); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's form: %d", resp.StatusCode)
	}
	if resp, _ := do(http.MethodPost, "/alerts/silence", silence("wrong"), otto); resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong CSRF token: %d", resp.StatusCode)
	}
	if resp, body := do(http.MethodPost, "/alerts/silence", silence(ottoCSRF), otto); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("operator's silence: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(http.MethodPost, "/alerts/ack", url.Values{"csrf": {ottoCSRF}, "incident": {"ffffff"}}, otto); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ffffff") {
		t.Errorf("ack of no incident: %d", resp.StatusCode)
	}
	if resp, _ := do(http.MethodPost, "/logout", url.Values{"csrf": {ottoCSRF}}, otto); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := do(http.MethodGet, "/alerts", nil, otto); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", resp.StatusCode)
	}

	// The API, with the admin's token as before: one silence, by otto; the audit trail.
	api := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer admin-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp.StatusCode, err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&struct{ Data any }{v})
	}
	var silences []struct {
		By      string `json:"createdBy"`
		Comment string
	}
	api("/api/v1/silences", &silences)
	if len(silences) != 1 || silences[0].By != "otto" || silences[0].Comment != "vendor maintenance" {
		t.Errorf("silences: %+v", silences)
	}
	var log []struct {
		User, Action string
		Detail       json.RawMessage
	}
	api("/api/v1/audit", &log)
	var got []string
	for i := len(log) - 1; i >= 0; i-- {
		got = append(got, log[i].User+" "+log[i].Action)
	}
	want := []string{" login.failure", "otto login", "vera login", "otto silence", "otto logout"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit log\n got: %q\nwant: %q", got, want)
	}
	if len(log) > 0 && !strings.Contains(string(log[len(log)-1].Detail), `"user":"otto"`) {
		t.Errorf("login failure detail: %s", log[len(log)-1].Detail)
	}
}
