package collector

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector/cluster"
	"github.com/bulwarkhq/bulwark/internal/testenv/postgres"
)

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
