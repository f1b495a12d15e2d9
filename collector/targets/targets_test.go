package targets

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/target"
)

func TestEndpoint(t *testing.T) {
	agents := auth.NewAgents()
	agents.Add("home-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	h, err := New(agents, []target.Target{{ID: "grid-portal", Sector: "energy", URL: "https://grid-portal.arcadia.test/"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/agents/{id}/targets", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(id, token, etag string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/agents/"+id+"/targets", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := get("home-1", "", ""); r.StatusCode != 401 {
		t.Errorf("no token: %d", r.StatusCode)
	}
	if r := get("abroad-1", "home-token", ""); r.StatusCode != 403 {
		t.Errorf("another agent's list: %d", r.StatusCode)
	}
	r := get("home-1", "home-token", "")
	var l List
	if err := json.NewDecoder(r.Body).Decode(&l); err != nil || r.StatusCode != 200 || len(l.Targets) != 1 {
		t.Fatalf("list: %d %v %+v", r.StatusCode, err, l)
	}
	etag := r.Header.Get("ETag")
	if r := get("home-1", "home-token", etag); r.StatusCode != 304 {
		t.Errorf("unchanged list with If-None-Match: %d", r.StatusCode)
	}
	h.Set([]target.Target{{ID: "payments", Sector: "finance", URL: "https://payments.arcadia.test/"}})
	if r := get("home-1", "home-token", etag); r.StatusCode != 200 || r.Header.Get("ETag") == etag {
		t.Errorf("changed list: %d, etag %s", r.StatusCode, r.Header.Get("ETag"))
	}
}
