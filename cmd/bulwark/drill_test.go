package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/audit"
	"github.com/bulwarkhq/bulwark/playbooks/report"
)

// TestDrillOnDemoWorld cuts the foreign DNS provider several services
// share. The services it serves go down in the drill's series only, the
// production on-call hears nothing, the playbook runs in drill mode, one
// service fails over and recovers, the collector dies mid-drill and the
// agents still end it on time, and the report lists what the what-if
// predicted, signed.
func TestDrillOnDemoWorld(t *testing.T) {
	t.Parallel()
	dw := startDrillWorld(t)
	lostSet := []string{"elections", "gas-transport", "pension-fund", "stock-exchange", "tax-office"} // Cathay DNS serves them
	eventually(t, 60*time.Second, "the dependency graphs hold Cathay DNS", func() bool {
		var deps []struct {
			Target string
			Layers []struct {
				Layer     string
				Providers []string
			}
		}
		if callAPI(t.Context(), http.MethodGet, dw.base, "/api/v1/dependencies", dw.opFile, nil, &deps) != nil {
			return false
		}
		n := 0
		for _, d := range deps {
			for _, l := range d.Layers {
				if l.Layer == "dns" && strings.Contains(strings.Join(l.Providers, ","), "cathaydns") {
					n++
				}
			}
		}
		return n == len(lostSet)
	})

	// Agents push their own health, and the collector stores its own: one data source for dashboards.
	eventually(t, 10*time.Second, "agents' and the collector's own metrics are in the store", func() bool {
		q := dw.query(t, `count by (agent) (bulwark_agent_queue_pending_samples)`)
		return len(dw.query(t, `bulwark_agent_queue_pending_samples{agent="home-1",vantage="home"}`)) == 1 &&
			len(dw.query(t, `bulwark_agent_queue_pending_samples{agent="abroad-1"}`)) == 1 && len(q) > 0 &&
			len(dw.query(t, `bulwark_ingest_requests_total`)) > 0
	})

	// An unknown provider is an error with near matches, not a drill of nothing.
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"drill", "start", "--cut", "provider=cathay-dnz", "--for", "1m", "--collector", dw.base, "--token-file", dw.opFile}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "cathaydns") {
		t.Fatalf("drill of an unknown provider: %v", err)
	}

	started := time.Now()
	got := dw.cli(t, "drill", "start", "--cut", "provider=Cathay DNS", "--for", "40s", "--playbook", "dns-provider-lost")
	id := strings.Fields(strings.TrimPrefix(got, "drill "))[0]
	id = strings.TrimSuffix(id, ":")
	if !strings.Contains(got, "predicted: 5 lost") {
		t.Fatalf("drill start said:\n%s", got)
	}
	eventually(t, 5*time.Second, "both agents enforce the cut", func() bool { return dw.home.Drill() != nil && dw.away.Drill() != nil })
	t.Logf("drill %s: both agents enforce the cut %.2fs after the start (poll interval 1s)", id, time.Since(started).Seconds())

	// Down in the drill's series, from both vantages; up in production.
	eventually(t, 30*time.Second, "the cut services are down in the drill series", func() bool {
		down := dw.query(t, fmt.Sprintf(`max by (target) (probe_success{drill=%q,check="http"}) == 0`, id))
		for _, tg := range lostSet {
			if _, ok := down[tg]; !ok {
				return false
			}
		}
		return true
	})
	down := dw.query(t, fmt.Sprintf(`max by (target) (probe_success{drill=%q,check="http"}) == 0`, id))
	for _, tg := range lostSet {
		if _, ok := down[tg]; !ok {
			t.Errorf("%s is not down under the drill: %v", tg, down)
		}
	}
	if t.Failed() {
		b, _ := request(t.Context(), http.MethodGet, dw.base, "/api/v1/query?query="+url.QueryEscape(`probe_failure_info{drill!="",target=~"pension-fund|nuclear-safety"} or probe_success{target=~"pension-fund|nuclear-safety",check="http"}`), dw.opFile, nil)
		t.Fatalf("%s", b)
	}
	if prodUp := dw.query(t, `min by (target) (probe_success{drill="",check="http",target=~"tax-office|elections"})`); prodUp["tax-office"] != 1 || prodUp["elections"] != 1 {
		t.Errorf("production probes saw the drill's cut: %v", prodUp)
	}
	eventually(t, 30*time.Second, "a drill alert fires and reaches the drill desk", func() bool {
		return strings.Contains(dw.desk.all(), id) && strings.Contains(dw.desk.all(), "ServiceDown")
	})

	// A failover during the drill: pension-fund's DNS moves home; it recovers under the cut.
	if err := dw.world.MoveDNS("pension-fund", "arcanet"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "pension-fund answers again under the cut", func() bool {
		up := dw.query(t, fmt.Sprintf(`min by (target) (probe_success{drill=%q,check="http",target="pension-fund"})`, id))
		return up["pension-fund"] == 1
	})

	// The collector dies mid-drill: the agents end the drill on time by their own clocks.
	dw.app.Stop(context.Background())
	eventually(t, 45*time.Second, "both agents end the drill at its expiry with no collector", func() bool {
		return dw.home.Drill() == nil && dw.away.Drill() == nil
	})
	if time.Since(started) < 39*time.Second {
		t.Fatalf("the agents ended the 40s drill after %s", time.Since(started))
	}
	dw.startCollector(t, dw.addr)

	// Production heard nothing of the drill.
	for _, tg := range lostSet {
		if strings.Contains(dw.prod.all(), tg) {
			t.Errorf("the production receiver was told of %s during the drill:\n%s", tg, dw.prod.all())
		}
	}
	var alerts struct {
		Alerts []struct{ Labels map[string]string }
	}
	callAPI(t.Context(), http.MethodGet, dw.base, "/api/v1/alerts", dw.opFile, nil, &alerts)
	for _, a := range alerts.Alerts {
		if strings.HasPrefix(a.Labels["alertname"], "ServiceDown") && a.Labels["drill"] == "" && strings.Contains(strings.Join(lostSet, ","), a.Labels["target"]) {
			t.Errorf("a production alert for a drilled service: %v", a.Labels)
		}
	}

	// The report: what the what-if predicted, measured, signed.
	shown := dw.cli(t, "drill", "show", id)
	if !strings.Contains(shown, "by schedule") || !strings.Contains(shown, "agents enforcing the cut: 2") || !strings.Contains(shown, "playbook runs") {
		t.Errorf("drill show:\n%s", shown)
	}
	dir := t.TempDir()
	files := map[string]string{}
	for _, f := range []string{"json", "md", "html"} {
		files[f] = filepath.Join(dir, "report."+f)
		dw.cli(t, "drill", "report", id, "--format", f, "--out", files[f])
		var out bytes.Buffer
		if err := run(t.Context(), []string{"verify", files[f]}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "intact") {
			t.Errorf("verify %s: %v %s", f, err, out.String())
		}
	}
	rep := readReport(t, files["json"])
	observed := map[string]report.Service{}
	for _, s := range rep.Services {
		observed[s.Target] = s
	}
	for _, tg := range lostSet {
		s := observed[tg]
		if s.Predicted != report.Lost || s.Observed != report.Lost || s.Difference != "" || s.Agents != 2 || s.FirstFailure == nil {
			t.Errorf("%s: %+v", tg, s)
		}
	}
	if s := observed["pension-fund"]; s.Recovered == nil || s.RTOResult != report.RTOMet {
		t.Errorf("pension-fund recovered: %+v", s)
	}
	if s := observed["elections"]; s.RTOResult != report.RTONotMeasured || s.Detected == nil {
		t.Errorf("elections: %+v", s)
	}
	for _, s := range rep.Services {
		// The flapping and the home-only services fail for their own reasons, and the report says so.
		ownFault := strings.Contains(s.Difference, "reasons of its own") && !strings.Contains(s.Difference, "drill_cut")
		if !strings.Contains(strings.Join(lostSet, ","), s.Target) && s.Observed != report.Unaffected && !ownFault {
			t.Errorf("%s was not in the cut but observed %s: %s", s.Target, s.Observed, s.Difference)
		}
	}
	for _, a := range rep.Agents {
		t.Logf("agent %s took up the cut %.3fs after the drill started (poll interval 1s)", a.Agent, a.Seconds)
	}
	if rep.Verdict != report.PassWithConditions || len(rep.Agents) != 2 {
		t.Errorf("verdict %q, agents %v, conditions %v", rep.Verdict, rep.Agents, rep.Conditions)
	}
	timeline := ""
	for _, e := range rep.Timeline {
		timeline += e.Action + " " + string(e.Detail) + "\n"
	}
	if !strings.Contains(timeline, "step.would-run") || !strings.Contains(dw.desk.all(), "a DNS provider is lost") {
		t.Errorf("the playbook did not run in drill mode (notify sent, http would-run):\n%s", timeline)
	}

	// The scenario: the foreign CDN's country is lost. Every service
	// behind Skyline CDN or served by Cathay DNS (both in XC) goes down in
	// the drill series as the what-if predicted; the agents end it on time.
	got = dw.cli(t, "drill", "start", "--cut", "country=XC", "--for", "20s")
	cid := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(got, "drill "))[0], ":")
	xc := []string{"elections", "gas-transport", "heat-network", "open-data", "pension-fund", "stock-exchange", "tax-office"}
	if !strings.Contains(got, fmt.Sprintf("predicted: %d lost", len(xc))) {
		t.Fatalf("drill start country=XC said:\n%s", got)
	}
	eventually(t, 30*time.Second, "the services of XC are down in the country drill's series", func() bool {
		down := dw.query(t, fmt.Sprintf(`max by (target) (probe_success{drill=%q,check="http"}) == 0`, cid))
		for _, tg := range xc {
			if _, ok := down[tg]; !ok {
				return false
			}
		}
		return true
	})
	eventually(t, 30*time.Second, "both agents end the country drill at its expiry", func() bool {
		return dw.home.Drill() == nil && dw.away.Drill() == nil
	})
	time.Sleep(1500 * time.Millisecond) // the collector closes it on schedule within a second
	cfile := filepath.Join(dir, "country.json")
	dw.cli(t, "drill", "report", cid, "--format", "json", "--out", cfile)
	crep := readReport(t, cfile)
	for _, s := range crep.Services {
		inCut := strings.Contains(","+strings.Join(xc, ",")+",", ","+s.Target+",")
		switch {
		case inCut && (s.Predicted != report.Lost || s.Observed != report.Lost):
			t.Errorf("country drill: %s predicted %s, observed %s: %s", s.Target, s.Predicted, s.Observed, s.Difference)
		case !inCut && s.Predicted == report.Lost:
			t.Errorf("country drill: %s predicted lost outside the cut", s.Target)
		case !inCut && s.Observed == report.Lost && !strings.Contains(s.Difference, "reasons of its own"):
			t.Errorf("country drill: %s lost outside the cut, unexplained: %s", s.Target, s.Difference)
		}
	}

	// A tampered report fails verify, naming the part.
	b, _ := os.ReadFile(files["json"])
	os.WriteFile(files["json"], bytes.Replace(b, []byte(`"observed": "lost"`), []byte(`"observed": "unaffected"`), 1), 0o600)
	err = run(t.Context(), []string{"verify", files["json"]}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "was altered (service ") {
		t.Errorf("verify of a tampered JSON report: %v", err)
	}
	h, _ := os.ReadFile(files["html"])
	os.WriteFile(files["html"], bytes.Replace(h, []byte("pass with conditions"), []byte("pass"), 1), 0o600)
	if err := run(t.Context(), []string{"verify", files["html"]}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Errorf("verify of a tampered HTML report: %v", err)
	}
}

func readReport(t *testing.T, file string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var x audit.Export
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	r, err := report.FromSigned(&x)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
