package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
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
	"github.com/bulwarkhq/bulwark/collector/cluster"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
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

// Issue 22: two collectors on one PostgreSQL, samples pushed to both:
// twenty outages in sequence page exactly one firing and one resolved
// notification each across the pair. Then the member that sent the last
// firing page is killed while its incident is open: the survivor sends
// the resolution, nothing twice, nothing missed.
func TestClusterPairPagesOnce(t *testing.T) {
	dsn := postgres.New(t).NewDatabase(t)
	p := newPager(t)
	a, b := startMember(t, dsn, "a", "10s", p), startMember(t, dsn, "b", "10s", p)
	// Both members and the three leases show in either's status.
	waitFor(t, 10*time.Second, "the status lists both members and three leases held", func() bool {
		resp, err := http.Get("http://" + b.Addr() + "/api/v1/status/cluster")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct{ Data cluster.Status }
		json.NewDecoder(resp.Body).Decode(&st)
		alive := 0
		for _, m := range st.Data.Members {
			if m.Alive {
				alive++
			}
		}
		return st.Data.Mode == "postgres" && st.Data.StateUp && alive == 2 && len(st.Data.Leases) == 3
	})
	const outages = 20
	start := time.Now()
	for i := 1; i <= outages; i++ {
		outage(t, p, i, a, b)
	}
	time.Sleep(2 * time.Second) // a late duplicate would be logged by now
	t.Logf("%d outages in %s", outages, time.Since(start).Round(time.Millisecond))
	inc := byIncident(p.log())
	from := map[string]int{}
	for _, pg := range p.log() {
		from[pg.From]++
		if pg.Dup {
			t.Errorf("page marked a possible duplicate with both members up: %+v", pg)
		}
	}
	if len(inc) != outages {
		t.Errorf("%d incidents paged, want %d", len(inc), outages)
	}
	for id, c := range inc {
		if c != [2]int{1, 1} {
			t.Errorf("incident %s: %d firing, %d resolved pages; want one each", id, c[0], c[1])
		}
	}
	if t.Failed() {
		for _, pg := range p.log() {
			t.Logf("%s %s %s %s", pg.At.Format("05.000"), pg.From, pg.Status, pg.ID)
		}
	}
	for _, app := range []*App{a, b} {
		mfs, _ := app.Registry().Gather()
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "bulwark_cluster") {
				for _, m := range mf.GetMetric() {
					t.Logf("%s %v %v %v", mf.GetName(), m.GetLabel(), m.GetCounter().GetValue(), m.GetGauge().GetValue())
				}
			}
		}
	}
	refused := metricSum(t, a.Registry(), "bulwark_cluster_claims_total") + metricSum(t, b.Registry(), "bulwark_cluster_claims_total")
	t.Logf("pages sent by member: %v; claims asked across the pair: %v", from, refused)

	// The last outage: the member that pages its firing is killed.
	probe(t, false, a, b)
	waitFor(t, 15*time.Second, "the last outage paged firing and seen by both", func() bool {
		return p.count("firing") == outages+1 && firing(t, a) && firing(t, b)
	})
	last := p.log()[len(p.log())-1]
	sender, survivor := a, b
	if last.From == "b" {
		sender, survivor = b, a
	}
	kill(sender)
	probe(t, true, survivor)
	waitFor(t, 15*time.Second, "the survivor paged the resolution", func() bool { return p.count("resolved") == outages+1 })
	time.Sleep(2 * time.Second)
	c := byIncident(p.log())[last.Incident]
	res := p.log()[len(p.log())-1]
	if c != [2]int{1, 1} || res.From == last.From || res.Dup || len(p.log()) != 2*(outages+1) {
		t.Fatalf("after %s was killed: incident %s paged %v (resolved by %s, dup %v); %d pages in all, want %d",
			last.From, last.Incident, c, res.From, res.Dup, len(p.log()), 2*(outages+1))
	}
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

// Issue 22: PostgreSQL stopped mid-incident. Both collectors keep paging
// (each page of the outage marked and counted a possible duplicate),
// /-/ready and bulwark_cluster_state_up say degraded; when it returns the
// pair converges: the next outage is paged once again.
func TestClusterStateDownMidIncident(t *testing.T) {
	srv := postgres.New(t)
	dsn := srv.NewDatabase(t)
	p := newPager(t)
	a, b := startMember(t, dsn, "a", "2s", p), startMember(t, dsn, "b", "2s", p)
	outage(t, p, 1, a, b)

	// An incident opens, then the database stops.
	probe(t, false, a, b)
	waitFor(t, 15*time.Second, "the second outage paged and seen by both", func() bool {
		return p.count("firing") == 2 && firing(t, a) && firing(t, b)
	})
	before := len(p.log())
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "both members degraded", func() bool {
		for _, m := range []*App{a, b} {
			code, body := ready(t, m)
			if code != 200 || !strings.Contains(body, "degraded") || metricSum(t, m.Registry(), "bulwark_cluster_state_up") != 0 {
				return false
			}
		}
		return true
	})
	// The incident resolves, another comes and goes, all while it is down.
	probe(t, true, a, b)
	waitFor(t, 15*time.Second, "the open incident resolved while the database is down", func() bool { return p.count("resolved") >= 2 })
	probe(t, false, a, b)
	waitFor(t, 15*time.Second, "a new outage paged while the database is down", func() bool {
		return p.count("firing") >= 3 && firing(t, a) && firing(t, b)
	})
	probe(t, true, a, b)
	waitFor(t, 15*time.Second, "its resolution paged while the database is down", func() bool {
		return p.count("resolved") >= 3 && !firing(t, a) && !firing(t, b)
	})
	time.Sleep(2 * time.Second)
	down := p.log()[before:]
	for _, pg := range down {
		if !pg.Dup {
			t.Errorf("a page sent while the database was down is not marked a possible duplicate: %+v", pg)
		}
	}
	if counted := metricSum(t, a.Registry(), "bulwark_cluster_possible_duplicates_total") + metricSum(t, b.Registry(), "bulwark_cluster_possible_duplicates_total"); counted != float64(len(down)) {
		t.Errorf("%v possible duplicates counted, %d pages sent while the database was down", counted, len(down))
	}
	t.Logf("while the database was down: %d pages (firing %d of 2 incidents)", len(down), p.count("firing")-2)

	// It returns: both converge, and the next outage is paged once.
	if err := srv.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "both members back", func() bool {
		for _, m := range []*App{a, b} {
			if code, body := ready(t, m); code != 200 || body != "Bulwark is ready.\n" || metricSum(t, m.Registry(), "bulwark_cluster_state_up") != 1 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second) // a lease: both have written their log back
	after := len(p.log())
	f, r := p.count("firing"), p.count("resolved")
	outage(t, p, f+1, a, b)
	time.Sleep(2 * time.Second)
	last := p.log()[after:]
	if len(last) != 2 || last[0].Status != "firing" || last[1].Status != "resolved" || last[0].Incident != last[1].Incident || last[0].Dup || last[1].Dup ||
		p.count("resolved") != r+1 {
		t.Fatalf("the outage after the database returned paged %+v, want one firing and one resolved, unmarked", last)
	}
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

// Issue 22, failover (three members, lease 10s, evaluation every 1s):
// an outage that begins as the active member is killed is paged by a
// survivor within its own evaluation; a member killed while its page is
// in flight (claimed, not settled) has its claim taken over once it has
// been silent for a lease, and the survivor pages, marked and counted a
// possible duplicate. Both figures are logged for docs/BENCHMARKS.md.
func TestClusterFailover(t *testing.T) {
	dsn := postgres.New(t).NewDatabase(t)
	p := newPager(t)
	p.hang["c"] = true
	a, b, c := startMember(t, dsn, "a", "10s", p), startMember(t, dsn, "b", "10s", p), startMember(t, dsn, "c", "10s", p)
	outage(t, p, 1, a, b)

	// An outage begins as b is killed.
	t0 := time.Now()
	kill(b)
	probe(t, false, a)
	waitFor(t, 15*time.Second, "the survivor paged the outage begun at the kill", func() bool { return p.count("firing") == 2 })
	newOutage := p.log()[len(p.log())-1].At.Sub(t0)
	probe(t, true, a)
	waitFor(t, 15*time.Second, "resolved", func() bool { return p.count("resolved") == 2 && !firing(t, a) })

	// c claims the next page and is killed while sending it.
	probe(t, false, c)
	waitFor(t, 15*time.Second, "c sending its page", func() bool { return p.triedBy("c") })
	probe(t, false, a)
	t1 := time.Now()
	kill(c)
	waitFor(t, 30*time.Second, "the survivor took the page over", func() bool { return p.count("firing") == 3 })
	took := p.log()[len(p.log())-1]
	takeover := took.At.Sub(t1)
	if took.From != "a" || !took.Dup || metricSum(t, a.Registry(), "bulwark_cluster_possible_duplicates_total") != 1 {
		t.Fatalf("the page taken over: %+v; a counted %v possible duplicates, want 1", took, metricSum(t, a.Registry(), "bulwark_cluster_possible_duplicates_total"))
	}
	t.Logf("failover, lease 10s, evaluation 1s: an outage begun at the kill paged by the survivor in %s; "+
		"a page in flight at the kill taken over and sent in %s", newOutage.Round(10*time.Millisecond), takeover.Round(10*time.Millisecond))
	if newOutage > 5*time.Second || takeover > 15*time.Second {
		t.Errorf("failover slower than one evaluation plus the lease")
	}
}

// Issue 22: a scheduled playbook and a scheduled drill, configured on
// both members of a pair, start once per scheduled time across the pair.
func TestClusterSchedulesOnce(t *testing.T) {
	dsn := postgres.New(t).NewDatabase(t)
	p := newPager(t)
	pb := filepath.Join(t.TempDir(), "check.yml")
	os.WriteFile(pb, []byte("name: check\nowner: cert-duty\ntriggers:\n  - schedule: '@every 1s'\nsteps:\n  - name: look\n    checklist: {items: [green]}\n"), 0o600)
	extra := "playbooks: {files: [" + pb + "]}\ndrills:\n  - {name: range, schedule: '@every 1s', cut: {cidrs: [203.0.113.0/24]}, duration: 1s}\n"
	a, b := startMember(t, dsn, "a", "10s", p, extra), startMember(t, dsn, "b", "10s", p, extra)
	time.Sleep(5 * time.Second)
	// The heartbeat too: one member sends it, every second.
	p.mu.Lock()
	beats := maps.Clone(p.beats)
	p.mu.Unlock()
	if len(beats) != 1 || beats["a"]+beats["b"] < 3 || beats["a"]+beats["b"] > 6 {
		t.Errorf("heartbeats in 5s by member: %v; want 3-6 from one member", beats)
	}
	runs := map[string]map[string]bool{} // key -> run ids
	drills := map[string]time.Time{}
	for _, m := range []*App{a, b} {
		var r struct{ Data []struct{ ID, Key string } }
		_, body := getJSON(t, m, "/api/v1/playbooks/runs")
		json.Unmarshal([]byte(body), &r)
		for _, run := range r.Data {
			if runs[run.Key] == nil {
				runs[run.Key] = map[string]bool{}
			}
			runs[run.Key][run.ID] = true
		}
		var d struct {
			Data []struct {
				ID      string
				Started time.Time
			}
		}
		_, body = getJSON(t, m, "/api/v1/drills")
		json.Unmarshal([]byte(body), &d)
		for _, dr := range d.Data {
			drills[dr.ID] = dr.Started
		}
	}
	if len(runs) < 3 {
		t.Fatalf("%d scheduled times run in 5s, want at least 3", len(runs))
	}
	for key, ids := range runs {
		if len(ids) != 1 {
			t.Errorf("scheduled time %s started %d runs across the pair", key, len(ids))
		}
	}
	// At most one drill per scheduled second across the pair (a time
	// whose claimer found a drill still running starts none).
	seconds := map[int64]int{}
	for _, at := range drills {
		seconds[at.Unix()]++
	}
	for sec, n := range seconds {
		if n > 1 {
			t.Errorf("%d drills started at %s across the pair", n, time.Unix(sec, 0).UTC())
		}
	}
	if len(drills) == 0 {
		t.Error("no scheduled drill started")
	}
	t.Logf("%d scheduled playbook times, %d drills in 5s across the pair", len(runs), len(drills))
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
