package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/playbooks/report"
)

// Issue 23 item 4: the demo shows every user's journey. Its outage alert
// starts the example playbook (whose notification reaches the demo's
// receiver), the DNS report has the national zone, and a drill's verdict
// weighs each lost service against its RTO (none says "no RTO target"),
// its alerts going to the drill route's receiver.
func TestDemoJourneys(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	dataDir := t.TempDir()
	notes := &syncBuffer{}
	go func() {
		done <- startDemo(ctx, demoOptions{Listen: "127.0.0.1:0", DataDir: dataDir, Out: notes,
			Pace: demoPace{Probe: 2 * time.Second, Deps: 2 * time.Second, Attribution: time.Second, Resolve: 2 * time.Second,
				OutageAfter: 6 * time.Second},
			Logger: slog.New(slog.DiscardHandler), Ready: func(a string) { addr <- a }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	opFile := filepath.Join(dataDir, demoOperatorToken)
	cli := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(ctx, append(args, "--collector", base, "--token-file", opFile), &out, &errb)
		return out.String(), err
	}

	// The DNS report has the national zone, its name, and who serves it.
	var rep struct {
		Data struct {
			Origin    string
			Providers []struct{ Provider, Jurisdiction string }
		}
	}
	getJSON(t, base+"/api/v1/reports/dns?origin=arcadia.test.", &rep)
	providers := map[string]string{}
	for _, p := range rep.Data.Providers {
		providers[p.Provider] = p.Jurisdiction
	}
	if providers["cathaydns"] != "XC" || providers["arcanet"] != "XA" {
		t.Errorf("the DNS report of the demo zone: %+v", rep.Data)
	}

	// The Cathay DNS outage fires ServiceDownEverywhere: the example
	// playbooks start, once per alert, and notify through the demo receiver.
	eventually(t, 90*time.Second, "the outage alert starts portal-down-everywhere", func() bool {
		out, err := cli("playbook", "runs")
		return err == nil && strings.Contains(out, "portal-down-everywhere") && strings.Contains(out, "alert:ServiceDownEverywhere")
	})
	eventually(t, 30*time.Second, "the playbook's notification reaches the demo receiver", func() bool {
		return strings.Contains(notes.String(), "[demo receiver] POST /cert-duty")
	})
	if out, _ := cli("playbook", "list"); !strings.Contains(out, "dns-moved-abroad") || strings.Contains(out, "certificate-expiring") {
		t.Errorf("the demo's playbooks:\n%s", out)
	}

	// A drill of Cathay DNS: its alerts go to the drill route, and its
	// verdict weighs every lost service against an RTO.
	got, err := cli("drill", "start", "--cut", "provider=Cathay DNS", "--for", "20s")
	if err != nil {
		t.Fatalf("drill start: %v", err)
	}
	id := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(got, "drill "))[0], ":")
	file := filepath.Join(t.TempDir(), "report.json")
	eventually(t, 120*time.Second, "the drill's report", func() bool {
		var st []struct {
			ID    string
			Ended time.Time
		}
		if callAPI(ctx, http.MethodGet, base, "/api/v1/drills", opFile, nil, &st) != nil {
			return false
		}
		for _, d := range st {
			if d.ID == id && !d.Ended.IsZero() {
				_, err := cli("drill", "report", id, "--format", "json", "--out", file)
				return err == nil
			}
		}
		return false
	})
	r := readReport(t, file)
	withRTO := 0
	for _, s := range r.Services {
		if s.RTO != nil {
			withRTO++
		}
		if s.RTOResult == report.RTONoTarget {
			t.Errorf("%s has no RTO target in the demo", s.Target)
		}
	}
	if withRTO == 0 || strings.Contains(strings.Join(r.Conditions, "; "), "no RTO target") {
		t.Errorf("verdict %s, conditions %v", r.Verdict, r.Conditions)
	}
	t.Logf("drill verdict: %s; conditions: %v", r.Verdict, r.Conditions)
	eventually(t, 30*time.Second, "the drill's alerts reach the drill route's receiver", func() bool {
		return strings.Contains(notes.String(), "[demo receiver] POST /drill-log")
	})
	// The playbook waits for an operator's approval before it fails over.
	out, _ := cli("playbook", "runs")
	if !strings.Contains(out, "waiting") {
		t.Errorf("no playbook run waits for an approval:\n%s", out)
	}
}
