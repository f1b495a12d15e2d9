package collector

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang/snappy"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/bulwarkhq/bulwark/internal/testenv/influxd"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// Issue 12: samples an agent pushes to the collector are also in
// InfluxDB (a real 1.8.10), stamped with the agent and vantage, read back
// with Flux; the token comes from a file.
func TestIngestReachesInfluxDB(t *testing.T) {
	addr := influxd.FreeAddr(t)
	influxd.Start(t, addr, t.TempDir())
	tok := filepath.Join(t.TempDir(), "influx.token")
	os.WriteFile(tok, []byte("bulwark:secret\n"), 0o600) // InfluxDB 1.8 without auth ignores it
	app, _ := startRoles(t, fmt.Sprintf("sinks:\n  influxdb: {url: %q, bucket: bulwark/autogen, token_file: %s}\n", "http://"+addr, tok))
	ts := time.Now().Add(-time.Minute)
	req := wire.WriteRequest{Series: []wire.Series{{
		Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "target", Value: "e-id"}},
		Samples: []wire.Sample{{Value: 1, Timestamp: ts.UnixMilli()}, {Value: 0, Timestamp: ts.Add(time.Second).UnixMilli()}}}}}
	r, _ := http.NewRequest("POST", "http://"+app.Addr()+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, wire.AppendRequest(nil, &req))))
	r.Header.Set("Authorization", "Bearer agent-token")
	r.Header.Set("Content-Encoding", "snappy")
	if resp, err := http.DefaultClient.Do(r); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("push: %v %v", resp, err)
	}
	c := influxdb2.NewClient("http://"+addr, "")
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.QueryAPI("").Query(context.Background(), `from(bucket: "bulwark/autogen") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "probe_success" and r.target == "e-id" and r.agent == "home-1" and r.vantage == "home")`)
		n := 0
		for err == nil && res.Next() {
			n++
		}
		if n == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("InfluxDB holds %d of the 2 points (%v)", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
