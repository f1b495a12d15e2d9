package probe

import (
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// allocated returns the bytes allocated while f ran.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Hostile servers end the probe within its timeout with a clear reason,
// and memory stays bounded.
func TestHostileHTTP(t *testing.T) {
	chunk := []byte(strings.Repeat("A", 32<<10))
	mux := http.NewServeMux()
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for i := 0; r.Context().Err() == nil && i < 600; i++ {
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	mux.HandleFunc("/bigpage", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>"))
		for i := 0; i < 50<<10 && r.Context().Err() == nil; i++ {
			w.Write([]byte(`<img src="https://cdn.test/x.png"><p>` + strings.Repeat("z", 1000) + "</p>"))
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A server that accepts and then sends its headers one byte a second.
	slow, _ := net.Listen("tcp", "127.0.0.1:0")
	defer slow.Close()
	go func() {
		for {
			c, err := slow.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for _, b := range []byte("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx") {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(time.Second)
				}
			}()
		}
	}()

	timeout := configfile.Duration(2 * time.Second)
	cases := []struct {
		name, url, reason string
	}{
		{"endless body", srv.URL + "/endless", "body_too_large"},
		{"redirect loop", srv.URL + "/loop", "redirects"},
		{"trickling body", srv.URL + "/trickle", "timeout"},
		{"slowloris headers", "http://" + slow.Addr().String() + "/", "timeout"},
	}
	env := &Env{MaxBodyBytes: 1 << 20}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var res Result
			start := time.Now()
			alloc := allocated(func() {
				res = Run(t.Context(), "http", &target.Target{ID: "x", URL: c.url, Timeout: timeout}, env)
			})
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %v with a 2s timeout", el)
			}
			if res.Success || Reason(res.Err) != c.reason {
				t.Errorf("got %v (reason %q), want reason %q", res.Err, Reason(res.Err), c.reason)
			}
			if !has(res, "probe_failure_info", "reason", c.reason) {
				t.Errorf("probe_failure_info{reason=%q} not recorded", c.reason)
			}
			if alloc > 8<<20 {
				t.Errorf("allocated %d MB", alloc>>20)
			}
		})
	}
	// The dependency probe reads at most 2 MiB of a 50 MB page.
	var res Result
	alloc := allocated(func() {
		res = Run(t.Context(), "deps", &target.Target{ID: "x", URL: srv.URL + "/bigpage", Timeout: configfile.Duration(5 * time.Second)}, &Env{Resolver: "127.0.0.1:1"})
	})
	if alloc > 16<<20 {
		t.Errorf("deps on a 50 MB page allocated %d MB", alloc>>20)
	}
	if !has(res, "probe_dependency_info", "addr", "", "kind", "img", "layer", "subresource", "name", "cdn.test") {
		t.Errorf("subresource of the big page not found: %v", res.Err)
	}
}
