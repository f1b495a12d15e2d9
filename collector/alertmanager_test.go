package collector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

// startAlertmanager runs Debian's Alertmanager 0.25 on loopback, gossip off.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin := testbin.Need(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"), 0o644)
	addr := freePort(t)
	return startProgram(t, "alertmanager", addr, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
}

// portalRule writes a rule file whose PortalUnreachable alert always fires
// for the tax-portal target, and returns its path.
func portalRule(t *testing.T, dir string) string {
	t.Helper()
	rules := filepath.Join(dir, "portal.rules.yml")
	if err := os.WriteFile(rules, []byte(`groups:
  - name: portal
    rules:
      - alert: PortalUnreachable
        expr: vector(1)
        labels: {severity: page, target: tax-portal, sector: government}
        annotations: {summary: "The tax portal answers nobody."}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return rules
}

// Issue 9: alerts reach a real Alertmanager through its v2 API, labels
// and annotations intact, so a shop's existing routing keeps working.
func TestAlertsReachAlertmanager(t *testing.T) {
	am := startAlertmanager(t)
	dir := t.TempDir()
	rules := portalRule(t, dir)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %s\nalerting:\n  evaluation_interval: 1s\n  rule_files: [%s]\n  alertmanagers: [{url: %q}]\n"+
		"targets:\n  - {id: tax-portal, sector: government, criticality: 1, url: 'https://tax-portal.example/'}\n",
		filepath.Join(dir, "data"), rules, am)), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(am + "/api/v2/alerts?filter=alertname%3D%22PortalUnreachable%22")
		if err != nil {
			t.Fatal(err)
		}
		var alerts []struct {
			Labels      map[string]string
			Annotations map[string]string
			Status      struct{ State string }
		}
		json.NewDecoder(resp.Body).Decode(&alerts)
		resp.Body.Close()
		if len(alerts) == 1 {
			a := alerts[0]
			// criticality comes from the target's configuration, for routing.
			if a.Labels["severity"] != "page" || a.Labels["target"] != "tax-portal" || a.Labels["criticality"] != "1" || a.Annotations["summary"] != "The tax portal answers nobody." ||
				a.Status.State != "active" {
				t.Fatalf("alert as Alertmanager holds it: %+v", a)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alertmanager holds %d PortalUnreachable alerts after 30s", len(alerts))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Issue 9: alert state survives a restart. A pending alert keeps the time
// it had spent pending (restored from ALERTS_FOR_STATE; as in Prometheus,
// the collector's own downtime is not counted towards its `for`), so the
// `for` does not start over and nothing pages twice.
func TestAlertStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "slow.rules.yml")
	os.WriteFile(rules, []byte("groups:\n  - name: slow\n    rules:\n      - alert: SlowBurn\n        expr: vector(1)\n        for: 1h\n"), 0o600)
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %s\nauth: {anonymous_role: viewer}\nalerting:\n  evaluation_interval: 1s\n  rule_files: [%s]\n",
		filepath.Join(dir, "data"), rules)), 0o600)
	start := func() *collector.App { return startFromFile(t, cfgFile, "") }
	// activeAt polls until SlowBurn is pending and cond holds for its activeAt.
	activeAt := func(app *collector.App, cond func(string) bool) string {
		deadline := time.Now().Add(20 * time.Second)
		last := ""
		for {
			resp, err := http.Get("http://" + app.Addr() + "/api/v1/alerts")
			if err != nil {
				t.Fatal(err)
			}
			var al struct {
				Data struct {
					Alerts []struct {
						Labels   map[string]string
						State    string
						ActiveAt time.Time
					}
				}
			}
			json.NewDecoder(resp.Body).Decode(&al)
			resp.Body.Close()
			for _, a := range al.Data.Alerts {
				if a.Labels["alertname"] == "SlowBurn" && a.State == "pending" {
					last = a.ActiveAt.Truncate(time.Second).UTC().String()
					if cond(last) {
						return last
					}
				}
			}
			if time.Now().After(deadline) {
				return last
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	app := start()
	first := activeAt(app, func(string) bool { return true })
	time.Sleep(4 * time.Second) // pending a while; evaluations write ALERTS_FOR_STATE
	if err := app.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	// The restarted collector restores the alert after its group first runs:
	// activeAt moves by the downtime only, so it stays well before the restart.
	restart := time.Now().UTC()
	app = start()
	defer app.Stop(context.Background())
	carried := func(a string) bool {
		at, err := time.Parse("2006-01-02 15:04:05 -0700 MST", a)
		return err == nil && at.Before(restart.Add(-2*time.Second))
	}
	if again := activeAt(app, carried); !carried(again) {
		t.Fatalf("activeAt %s before the restart at %s, %s after: the alert's for started over", first, restart, again)
	}
}

// The dead-man's switch: while rules evaluate, the collector tells an
// external receiver it is alive.
func TestHeartbeat(t *testing.T) {
	beats := make(chan struct{}, 100)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { beats <- struct{}{} })}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "bulwark.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("data_dir: %s\nalerting:\n  evaluation_interval: 1s\n  heartbeat: {url: \"http://%s/ping\", interval: 1s}\n",
		filepath.Join(dir, "data"), ln.Addr())), 0o600)
	app := startFromFile(t, cfgFile, "")
	defer app.Stop(context.Background())
	select {
	case <-beats:
	case <-time.After(15 * time.Second):
		t.Fatal("no heartbeat within 15s")
	}
}
