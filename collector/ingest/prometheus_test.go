package ingest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

// Debian's Prometheus 2.42, as a remote-write client with an agent's
// token, is taken: its Content-Type passes the 415 check, its samples are
// stored, no request is refused.
func TestPrometheusRemoteWriteClient(t *testing.T) {
	bin := testbin.Need(t, "prometheus", "prometheus")
	f := newFixture(t, Limits{})
	f.now = time.Now().Add(time.Hour) // the fixture's clock; Prometheus's samples are now
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, `probe_success{check="http",target="grid"} 1`)
	}))
	defer exporter.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`global: {scrape_interval: 1s}
scrape_configs:
  - job_name: probe
    static_configs: [{targets: [%q]}]
    metric_relabel_configs: [{source_labels: [__name__], regex: probe_success, action: keep}]
remote_write:
  - url: %s/api/v1/write
    authorization: {credentials: home-token}
    queue_config: {batch_send_deadline: 1s}
`, exporter.Listener.Addr().String(), f.srv.URL)), 0o644)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	}()
	h := f.srv.Config.Handler.(*Handler)
	deadline := time.Now().Add(60 * time.Second)
	for f.count(t) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no samples from Prometheus's remote write within 60s (204: %v, 415: %v)",
				testutil.ToFloat64(h.metrics.requests.WithLabelValues("204")), testutil.ToFloat64(h.metrics.requests.WithLabelValues("415")))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := testutil.ToFloat64(h.metrics.requests.WithLabelValues("415")); n != 0 {
		t.Errorf("%v requests of Prometheus refused 415", n)
	}
}
