package pull

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/target"
)

func TestFetchCacheAndETag(t *testing.T) {
	var hits atomic.Int32
	body := `{"targets":[{"id":"grid-portal","sector":"energy","url":"https://grid-portal.arcadia.test/"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/api/v1/agents/home-1/targets" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte(body))
	}))
	cache := filepath.Join(t.TempDir(), "targets.json")
	p, _ := New(Options{BaseURL: srv.URL, AgentID: "home-1", Token: "tok", CacheFile: cache})
	ts, err := p.Fetch(context.Background())
	if err != nil || len(ts) != 1 || ts[0].ID != "grid-portal" {
		t.Fatalf("fetch: %v %+v", err, ts)
	}
	if _, err := p.Fetch(context.Background()); !errors.Is(err, ErrNotModified) {
		t.Fatalf("second fetch: %v", err)
	}
	srv.Close()
	// The collector is away: a new agent process falls back to the cache.
	p2, _ := New(Options{BaseURL: srv.URL, AgentID: "home-1", Token: "tok", CacheFile: cache})
	if _, err := p2.Fetch(context.Background()); err == nil {
		t.Fatal("fetch from a stopped collector succeeded")
	}
	ts, err = p2.Cached()
	if err != nil || len(ts) != 1 {
		t.Fatalf("cached: %v %+v", err, ts)
	}
}

// A list that fails validation is refused and not cached.
func TestInvalidListRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"targets":[{"id":"Bad Id"}], "surprise": 1}`))
	}))
	defer srv.Close()
	cache := filepath.Join(t.TempDir(), "targets.json")
	p, _ := New(Options{BaseURL: srv.URL, AgentID: "a", CacheFile: cache, Validate: func([]target.Target) error { return nil }})
	if _, err := p.Fetch(context.Background()); err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := p.Cached(); err == nil {
		t.Fatal("a refused list was cached")
	}
}
