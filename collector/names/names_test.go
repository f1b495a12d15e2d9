package names

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// Agents may only answer for the names they were asked, with valid
// addresses, within bounds; what they answered survives a restart; an
// agent cannot post as another.
func TestStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "names.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Wanted = func() []string { return []string{"ns1.uberns.com", "ns1.longtail-dns.test"} }
	agents := auth.NewAgents()
	agents.Add("home-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.SetPathValue("id", strings.Split(r.URL.Path, "/")[4])
		s.Handler(agents).ServeHTTP(w, r)
	}))
	defer srv.Close()
	post := func(id, token, body string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/agents/"+id+"/names", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"resolved": {"NS1.UberNS.com.": ["203.0.113.7", "not-an-ip", "203.0.113.7"], "ns1.bank.example": ["198.51.100.1"], "ns1.longtail-dns.test": ["zzz"]}}`
	for _, c := range []struct {
		id, token, body string
		code            int
	}{
		{"home-1", "wrong", body, http.StatusUnauthorized},
		{"abroad-1", "home-token", body, http.StatusForbidden},
		{"home-1", "home-token", `{"resolved": {"a": ["1.1.1.1"]}, "extra": 1}`, http.StatusBadRequest},
		{"home-1", "home-token", body, http.StatusOK},
	} {
		if got := post(c.id, c.token, c.body); got != c.code {
			t.Errorf("POST as %s with %s: %d, want %d", c.id, c.token, got, c.code)
		}
	}
	if got := s.Lookup("ns1.uberns.com"); len(got) != 1 || got[0] != "203.0.113.7" {
		t.Errorf("kept %v, want the one valid address once", got)
	}
	if s.Lookup("ns1.bank.example") != nil || s.Lookup("ns1.longtail-dns.test") != nil {
		t.Error("kept a name not asked for, or one with no valid address")
	}
	again, err := Open(path)
	if err != nil || len(again.Lookup("ns1.uberns.com")) != 1 {
		t.Fatalf("after a restart: %v %v", err, again.Resolved())
	}
	if e := again.Resolved()["ns1.uberns.com"]; e.Agent != "home-1" || time.Since(e.At) > time.Minute {
		t.Errorf("entry %+v", e)
	}
}
