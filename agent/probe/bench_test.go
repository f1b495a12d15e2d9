package probe

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwarkhq/bulwark/internal/target"
)

func BenchmarkProbeHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>ok</html>")) }))
	defer srv.Close()
	tg := &target.Target{ID: "x", URL: srv.URL + "/s/1"}
	env := &Env{}
	b.ReportAllocs()
	for b.Loop() {
		if res := Run(b.Context(), "http", tg, env); !res.Success {
			b.Fatal(res.Err)
		}
	}
}
