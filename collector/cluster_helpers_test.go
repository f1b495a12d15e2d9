package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/wire"
)

// page is one POST the webhook receiver logged.
type page struct {
	From, Status, Incident, ID string
	Dup                        bool
	At                         time.Time
}

// pager is a webhook receiver on loopback that logs every POST; a member
// named in hang has its POSTs held until the test ends (a send in flight).
type pager struct {
	srv   *httptest.Server
	mu    sync.Mutex
	pages []page
	tried []page // every POST, held ones too
	hang  map[string]bool
	// hb takes the members' heartbeats, counted by member.
	hb    *httptest.Server
	beats map[string]int
}

func newPager(t *testing.T) *pager {
	p := &pager{hang: map[string]bool{}, beats: map[string]int{}}
	p.hb = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.beats[r.URL.Query().Get("from")]++
		p.mu.Unlock()
	}))
	t.Cleanup(p.hb.Close)
	release := make(chan struct{})
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Status, Incident, ID string
			PossibleDuplicate    bool
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &m)
		pg := page{From: r.URL.Query().Get("from"), Status: m.Status, Incident: m.Incident, ID: m.ID, Dup: m.PossibleDuplicate, At: time.Now()}
		p.mu.Lock()
		p.tried = append(p.tried, pg)
		hang := p.hang[pg.From]
		p.mu.Unlock()
		if hang {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		p.mu.Lock()
		p.pages = append(p.pages, pg)
		p.mu.Unlock()
	}))
	t.Cleanup(func() { close(release); p.srv.Close() })
	return p
}

func (p *pager) log() []page {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]page(nil), p.pages...)
}

// count is how many pages of status were logged.
func (p *pager) count(status string) int {
	n := 0
	for _, pg := range p.log() {
		if pg.Status == status {
			n++
		}
	}
	return n
}

// waitFor polls cond every 20ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const clusterConfig = `data_dir: %s
auth: {anonymous_role: viewer}
agents: [{id: home-1, vantage: home, token_sha256: %s}]
state: {driver: postgres, dsn_file: %s}
cluster: {member: %s, lease: %s}
alerting:
  evaluation_interval: 1s
  heartbeat: {url: %q, interval: 1s}
  rule_files: [%s]
  receivers: [{name: duty, webhook: {url: %q}}, {name: none, discard: true}]
  routes:
    - receiver: none
      group_wait: 0s
      group_interval: 1s
      routes:
        - {receiver: duty, matchers: ['alertname="SvcDown"'], group_by: [target]}
`

// startMember starts collector name on the PostgreSQL at dsn, paging p.
func startMember(t *testing.T, dsn, name, lease string, p *pager, extra ...string) *App {
	t.Helper()
	dir := t.TempDir()
	dsnFile, rules, file := filepath.Join(dir, "state.dsn"), filepath.Join(dir, "svc.rules.yml"), filepath.Join(dir, "bulwark.yml")
	os.WriteFile(dsnFile, []byte(dsn), 0o600)
	os.WriteFile(rules, []byte("groups:\n  - name: svc\n    rules:\n      - alert: SvcDown\n        expr: probe_success{target=\"svc\"} == 0\n"), 0o600)
	y := fmt.Sprintf(clusterConfig, filepath.Join(dir, "data"), auth.Hash("agent-token"), dsnFile, name, lease, p.hb.URL+"/?from="+name, rules, p.srv.URL+"/?from="+name) +
		strings.Join(extra, "")
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := collectorconfig.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	app, err := New(Options{Config: cfg, ConfigFile: file})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop(context.Background()) })
	return app
}

// kill stops a member as kill -9 would leave it to the others: it stops
// beating and writing at once, without leaving or settling anything.
func kill(a *App) {
	a.cluster.Kill()
	a.Stop(context.Background())
}

// probe pushes one probe_success sample of svc to each live member, as
// the agents pushing to every collector would.
func probe(t *testing.T, up bool, apps ...*App) {
	t.Helper()
	v := 0.0
	if up {
		v = 1
	}
	req := &wire.WriteRequest{Series: []wire.Series{{
		Labels:  []wire.Label{{Name: "__name__", Value: "probe_success"}, {Name: "check", Value: "http"}, {Name: "target", Value: "svc"}},
		Samples: []wire.Sample{{Value: v, Timestamp: time.Now().UnixMilli()}}}}}
	body := wire.Compress(nil, req)
	for _, a := range apps {
		r, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/api/v1/write", bytes.NewReader(body))
		r.Header.Set("Content-Encoding", "snappy")
		r.Header.Set("Content-Type", "application/x-protobuf")
		r.Header.Set("Authorization", "Bearer agent-token")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("push to %s: %d", a.Addr(), resp.StatusCode)
		}
	}
}

// firing reports whether a member's rules hold SvcDown firing.
func firing(t *testing.T, a *App) bool {
	resp, err := http.Get("http://" + a.Addr() + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), `"SvcDown"`) && strings.Contains(string(b), `"firing"`)
}

// outage takes svc down and up again on members, waiting until each
// member's rules saw it firing and resolved, and the pager the one
// firing and one resolved page of outage n (1-based) across them.
func outage(t *testing.T, p *pager, n int, apps ...*App) {
	t.Helper()
	probe(t, false, apps...)
	waitFor(t, 15*time.Second, fmt.Sprintf("outage %d paged firing and seen by every member", n), func() bool {
		for _, a := range apps {
			if !firing(t, a) {
				return false
			}
		}
		return p.count("firing") >= n
	})
	probe(t, true, apps...)
	waitFor(t, 15*time.Second, fmt.Sprintf("outage %d paged resolved", n), func() bool {
		for _, a := range apps {
			if firing(t, a) {
				return false
			}
		}
		return p.count("resolved") >= n
	})
}

// byIncident groups pages by incident: firing and resolved pages each.
func byIncident(pages []page) map[string][2]int {
	out := map[string][2]int{}
	for _, pg := range pages {
		c := out[pg.Incident]
		if pg.Status == "firing" {
			c[0]++
		} else {
			c[1]++
		}
		out[pg.Incident] = c
	}
	return out
}

func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			} else if g := m.GetGauge(); g != nil {
				sum += g.GetValue()
			}
		}
	}
	return sum
}

// ready is a member's /-/ready answer.
func ready(t *testing.T, a *App) (int, string) {
	resp, err := http.Get("http://" + a.Addr() + "/-/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// tried reports whether the pager was sent a firing page by member from.
func (p *pager) triedBy(from string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pg := range p.tried {
		if pg.From == from && pg.Status == "firing" {
			return true
		}
	}
	return false
}

func getJSON(t *testing.T, a *App, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + a.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
