package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/bulwarkhq/bulwark/internal/cutset"
	"github.com/bulwarkhq/bulwark/internal/depgraph"
	"github.com/bulwarkhq/bulwark/internal/wire"
	pbdrill "github.com/bulwarkhq/bulwark/playbooks/drill"
)

// TestDrillAPI: who may start, stop and read drills, what a bad request
// is told, one drill at a time, and what an agent is handed.
func TestDrillAPI(t *testing.T) {
	app, _ := startRoles(t, "")
	base := "http://" + app.Addr()
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("GET", "/api/v1/agents/home-1/drill", "agent-token", ""); code != http.StatusNoContent {
		t.Fatalf("no drill: %d", code)
	}
	ok := `{"cut": {"cidrs": ["192.0.2.0/24"]}, "duration": "10m"}`
	for _, c := range []struct {
		token, body string
		code        int
		want        string
	}{
		{"viewer-token", ok, 403, ""},
		{"operator-token", `{"cut": {"cidrs": ["192.0.2.0/24"]}, "duration": "10m", "extra": 1}`, 400, "unknown field"},
		{"operator-token", `{"cut": {}, "duration": "10m"}`, 400, "name what is cut"},
		{"operator-token", `{"cut": {"cidrs": ["192.0.2.0/24"]}}`, 400, "duration 0s"},
		{"operator-token", `{"cut": {"cidrs": ["192.0.2.0/24"]}, "duration": "25h"}`, 400, "at most 24h0m0s"},
		{"operator-token", `{"cut": {"cidrs": ["192.0.2.0/24"]}, "duration": "10m", "playbooks": ["nope"]}`, 400, `no playbook named \"nope\"`},
		{"operator-token", `{"cut": {"providers": ["cloudflarre"]}, "duration": "10m"}`, 400, "did you mean"},
		{"operator-token", `{"cut": {"countries": ["DE"]}, "duration": "10m"}`, 400, "cuts nothing"},
		{"operator-token", `{"cut": {"countries": ["XQ"]}, "duration": "10m"}`, 400, "not an ISO 3166 country code"},
		{"operator-token", strings.Repeat("x", 2<<20), 400, "at most 1 MiB"},
	} {
		if code, body := do("POST", "/api/v1/drills", c.token, c.body); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %.60s: %d %s", c.token, c.body, code, body)
		}
	}
	if code, _ := do("GET", "/api/v1/agents/home-1/drill?wait=soon", "agent-token", ""); code != 400 {
		t.Errorf("a bad wait: %d", code)
	}
	// An agent's long poll is answered as soon as the drill starts.
	polled := make(chan time.Time, 1)
	go func() {
		code, _ := do("GET", "/api/v1/agents/home-1/drill?wait=15s&known=", "agent-token", "")
		if code == 200 {
			polled <- time.Now()
		}
		close(polled)
	}()
	time.Sleep(200 * time.Millisecond) // the poll is waiting
	code, body := do("POST", "/api/v1/drills", "operator-token", ok)
	startedAt := time.Now()
	if code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	if at, ok := <-polled; !ok || at.Sub(startedAt) > 5*time.Second {
		t.Errorf("the long poll was not answered by the start (answered: %v)", ok)
	}
	var started struct {
		Data struct {
			ID       string
			Prefixes int `json:"cut_prefixes"`
		}
	}
	json.Unmarshal([]byte(body), &started)
	id := started.Data.ID
	if !cutset.ValidID(id) || started.Data.Prefixes != 1 {
		t.Fatalf("started: %s", body)
	}
	if code, body := do("POST", "/api/v1/drills", "operator-token", ok); code != http.StatusConflict || !strings.Contains(body, id) {
		t.Errorf("a second drill: %d %s", code, body)
	}
	// The agent gets the cut-set; another agent's path is refused.
	code, body = do("GET", "/api/v1/agents/home-1/drill", "agent-token", "")
	c, err := cutset.Decode(strings.NewReader(body))
	if code != 200 || err != nil || c.ID != id || !c.Active(time.Now()) {
		t.Fatalf("agent's drill: %d %v %s", code, err, body)
	}
	if code, _ := do("GET", "/api/v1/agents/abroad-9/drill", "agent-token", ""); code != http.StatusForbidden {
		t.Errorf("another agent's drill: %d", code)
	}
	if code, body := do("GET", "/api/v1/drills/"+id, "viewer-token", ""); code != 200 || !strings.Contains(body, `"home-1"`) {
		t.Errorf("show: %d %s", code, body)
	}
	if code, _ := do("GET", "/api/v1/drills/"+id+"/report?format=pdf", "viewer-token", ""); code != 400 {
		t.Errorf("report in an unknown format: %d", code)
	}
	if code, body := do("GET", "/api/v1/drills/"+id+"/report?format=md", "viewer-token", ""); code != 200 || !strings.Contains(body, "bulwark-signature") {
		t.Errorf("report: %d %.200s", code, body)
	}
	if code, _ := do("POST", "/api/v1/drills/"+id+"/stop", "viewer-token", ""); code != 403 {
		t.Errorf("a viewer stopped a drill: %d", code)
	}
	if code, _ := do("POST", "/api/v1/drills/nope/stop", "operator-token", ""); code != 404 {
		t.Errorf("stop of no drill: %d", code)
	}
	if code, body := do("POST", "/api/v1/drills/"+id+"/stop", "operator-token", ""); code != 200 || !strings.Contains(body, `"ended_by":"otto"`) {
		t.Errorf("stop: %d %s", code, body)
	}
	if code, _ := do("POST", "/api/v1/drills/"+id+"/stop", "operator-token", ""); code != http.StatusConflict {
		t.Errorf("second stop: %d", code)
	}
	if code, _ := do("GET", "/api/v1/agents/home-1/drill", "agent-token", ""); code != http.StatusNoContent {
		t.Errorf("the agent still gets a stopped drill: %d", code)
	}
	if code, body := do("GET", "/api/v1/audit", "admin-token", ""); !strings.Contains(body, "drill.start") || !strings.Contains(body, "drill.stop") {
		t.Errorf("audit: %d %s", code, body)
	}
}

// TestDrillLabelOnlyWithinADrill: an agent cannot label samples with a
// drill that is not running (it would keep them from the production
// on-call); within a drill's time they are stored.
func TestDrillLabelOnlyWithinADrill(t *testing.T) {
	app, _ := startRoles(t, "")
	base := "http://" + app.Addr()
	push := func(drillID string, ts time.Time) (int, string) {
		t.Helper()
		req := wire.WriteRequest{Series: []wire.Series{{
			Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "drill", Value: drillID}, {Name: "target", Value: "portal"}},
			Samples: []wire.Sample{{Value: 0, Timestamp: ts.UnixMilli()}}}}}
		r, _ := http.NewRequest("POST", base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, wire.AppendRequest(nil, &req))))
		r.Header.Set("Authorization", "Bearer agent-token")
		r.Header.Set("Content-Encoding", "snappy")
		r.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := push("drill-20261126-0000-abcdef", time.Now()); code != 400 || !strings.Contains(body, "no drill") {
		t.Fatalf("a made-up drill label: %d %s", code, body)
	}
	d, err := app.drills.Start(context.Background(), pbdrill.Request{Cut: depgraph.Cut{CIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}, Duration: time.Hour}, "otto")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := push(d.ID, time.Now()); code/100 != 2 {
		t.Fatalf("a sample of the running drill: %d %s", code, body)
	}
	if code, _ := push(d.ID, time.Now().Add(-time.Hour)); code != 400 {
		t.Errorf("a sample from before the drill: %d", code)
	}
}

// TestScheduledDrill: a drill in the configuration starts on its
// schedule, by "schedule:NAME", audited, and ends on its own.
func TestScheduledDrill(t *testing.T) {
	app, _ := startRoles(t, "drills:\n  - {name: weekly-range, schedule: '@every 1s', cut: {cidrs: [203.0.113.0/24]}, duration: 2s}\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := app.drills.List()
		if len(list) > 0 {
			d := list[0]
			if d.StartedBy != "schedule:weekly-range" || d.Scenario != "203.0.113.0/24" || d.Ends.Sub(d.Started) != 2*time.Second {
				t.Fatalf("scheduled drill: %+v", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scheduled drill did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, err := app.state.AuditLog(t.Context(), 50)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(log)
	if !strings.Contains(string(b), "schedule:weekly-range") {
		t.Errorf("audit: %s", b)
	}
}
