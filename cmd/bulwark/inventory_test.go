package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/inventory"
	"github.com/bulwarkhq/bulwark/collector/state"
	"github.com/bulwarkhq/bulwark/internal/target"
)

const dotgovCSV = "../../collector/inventory/testdata/current-full.csv"
const dotgovZone = "../../collector/zone/testdata/gov.zone"

// The national inventory from the command line: the .gov list imported
// (dry run first, then for real, then again with nothing to do), the zone
// imported twice with one domain moving its DNS abroad, and the report.
func TestInventoryAndZoneCommands(t *testing.T) {
	data := t.TempDir()
	var out, errb bytes.Buffer
	run1 := func(args ...string) error {
		out.Reset()
		return run(context.Background(), args, &out, &errb)
	}
	if err := run1("targets", "import", "--csv", dotgovCSV, "--preset", "dotgov", "--data", data, "--dry-run"); err != nil ||
		!strings.HasPrefix(out.String(), "dry run, nothing written: 16539 added, 0 changed, 0 unchanged") {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(data, "state", "targets.json")); err == nil {
		t.Fatal("a dry run wrote the inventory")
	}
	if err := run1("targets", "import", "--csv", dotgovCSV, "--preset", "dotgov", "--data", data); err != nil {
		t.Fatal(err)
	}
	if err := run1("targets", "import", "--csv", dotgovCSV, "--preset", "dotgov", "--data", data); err != nil ||
		!strings.HasPrefix(out.String(), "imported: 0 added, 0 changed, 16539 unchanged") {
		t.Fatalf("second import: %v\n%s", err, out.String())
	}
	if err := run1("targets", "import", "--csv", "../../collector/inventory/testdata/bad-rows.csv", "--data", data); err == nil ||
		!strings.Contains(err.Error(), "bad-rows.csv:3: id:") {
		t.Fatalf("bad file: %v", err)
	}

	if err := run1("zone", "import", dotgovZone, "--data", data, "--home", "US"); err != nil ||
		!strings.Contains(out.String(), "16536 delegations, 43953 NS records, 2718 DS records") {
		t.Fatalf("zone import: %v\n%s", err, out.String())
	}
	// A later export where 29palms.gov moved to Alibaba's DNS.
	orig, _ := os.ReadFile(dotgovZone)
	later := strings.Replace(string(orig), ";; Exported:   2026-08-22 07:39:20", ";; Exported:   2026-09-22 07:39:20", 1)
	var lines []string
	for _, l := range strings.Split(later, "\n") {
		if strings.HasPrefix(l, "29palms.gov.") && strings.Contains(l, "\tNS\t") {
			continue
		}
		lines = append(lines, l)
	}
	lines = append(lines, "29palms.gov.\t3600\tIN\tNS\tns1.alidns.com.", "29palms.gov.\t3600\tIN\tNS\tns2.alidns.com.")
	laterFile := filepath.Join(t.TempDir(), "gov-later.zone")
	os.WriteFile(laterFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	if err := run1("zone", "import", laterFile, "--data", data, "--home", "US"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 domains changed DNS provider or jurisdiction, 1 of them now entirely foreign") ||
		!strings.Contains(out.String(), "29palms.gov: ") || !strings.Contains(out.String(), "alibaba@CN (foreign-critical)") {
		t.Fatalf("drift between imports:\n%s", out.String())
	}

	if err := run1("report", "dns", "--data", data, "--home", "US", "--csv", "types"); err != nil ||
		!strings.HasPrefix(out.String(), "type,domains,signed,dnssec_coverage") || !strings.Contains(out.String(), "\nCity,8977,") {
		t.Fatalf("report csv: %v\n%.500s", err, out.String())
	}
	if err := run1("report", "dns", "--data", data, "--home", "US", "--cut-provider", "cloudflare"); err != nil ||
		!strings.Contains(out.String(), "lose their DNS") {
		t.Fatalf("report what-if: %v\n%s", err, out.String())
	}
	// Issue 10: a provider by id or by any alias is the same cut; a
	// country cut finds it too; an unknown provider is an error with near
	// matches, never a silent "0 lost". (29palms.gov moved from ClouDNS to
	// Alibaba above.)
	lost := map[string]string{}
	for _, cut := range [][]string{{"--cut-provider", "cloudns"}, {"--cut-provider", "domain:cloudns.net"}, {"--cut-provider", "ClouDNS"},
		{"--cut-provider", "cloudns.com"}, {"--cut-country", "BG"}} {
		if err := run1(append([]string{"report", "dns", "--data", data, "--home", "US"}, cut...)...); err != nil {
			t.Fatalf("%v: %v", cut, err)
		}
		lost[strings.Join(cut, " ")] = out.String()
	}
	for cut, o := range lost {
		if !strings.Contains(o, ", 146 lose their DNS") && !(cut == "--cut-country BG" && strings.Contains(o, ", 285 lose their DNS")) {
			t.Errorf("%s: %s", cut, o)
		}
	}
	// An operator no catalog names, under four top-level domains, is one
	// operator: cutting any of its domains cuts the domains that rely on it.
	for _, name := range []string{"uberns.net", "domain:uberns.info", "domain:uberns.com"} {
		if err := run1("report", "dns", "--data", data, "--home", "US", "--cut-provider", name); err != nil || !strings.Contains(out.String(), ", 177 lose their DNS") {
			t.Errorf("cut %s: %v %s", name, err, out.String())
		}
	}
	if err := run1("report", "dns", "--data", data, "--home", "US", "--cut-provider", "cloudnz"); err == nil || !strings.Contains(err.Error(), "did you mean cloudns") {
		t.Errorf("unknown provider: %v", err)
	}
	if err := run1("report", "dns", "--data", data, "--home", "US"); err != nil || !strings.Contains(out.String(), "Foreign only:  874 domains") ||
		!strings.Contains(out.String(), "by country: BG 285, IL 265, CA 224, DE 53, CY 37, FR 6, IS 2, CN 1, SI 1") {
		t.Errorf("report headline: %v\n%.1500s", err, out.String())
	}
	if err := run1("report", "dns", "--data", data, "--home", "US", "--json"); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Domains     int      `json:"domains"`
		ForeignOnly []string `json:"foreign_only_domains"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Domains != 16536 || !strings.Contains(strings.Join(rep.ForeignOnly, ","), "29palms.gov") {
		t.Fatalf("report json: %v %d %v", err, rep.Domains, rep.ForeignOnly)
	}
}

// Operators import through the API; the imported targets are the ones
// agents are handed; a viewer may not import.
func TestImportThroughAPI(t *testing.T) {
	cfg := collectorconfig.Default()
	cfg.DataDir = t.TempDir()
	agents := auth.NewAgents()
	agents.Add("agent-token", auth.Identity{Agent: "home-1", Vantage: "home"})
	users := auth.NewUsers()
	users.Add("op-token", false, auth.User{ID: "alice", Role: auth.RoleOperator})
	users.Add("view-token", false, auth.User{ID: "bob", Role: auth.RoleViewer})
	app, err := collector.New(collector.Options{Config: &cfg, Agents: agents, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	app.Start(ln)
	defer app.Stop(context.Background())
	base := "http://" + app.Addr()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "op"), []byte("op-token\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "viewer"), []byte("view-token\n"), 0o600)
	var out, errb bytes.Buffer
	err = run(context.Background(), []string{"targets", "import", "--csv", dotgovCSV, "--preset", "dotgov", "--collector", base, "--token-file", filepath.Join(dir, "viewer")}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("viewer import: %v", err)
	}
	if err := run(context.Background(), []string{"targets", "import", "--csv", dotgovCSV, "--preset", "dotgov", "--collector", base, "--token-file", filepath.Join(dir, "op")}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/agents/home-1/targets", nil)
	req.Header.Set("Authorization", "Bearer agent-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct{ Targets []struct{ ID, URL string } }
	json.NewDecoder(resp.Body).Decode(&l)
	found := false
	for _, tg := range l.Targets {
		found = found || tg.ID == "29palms-gov" && tg.URL == "https://29palms.gov/"
	}
	if len(l.Targets) != 16539 || !found {
		t.Fatalf("agents are handed %d targets (29palms-gov among them: %v)", len(l.Targets), found)
	}
	err = run(context.Background(), []string{"targets", "import", "--csv", "../../collector/inventory/testdata/duplicate.csv", "--preset", "dotgov", "--collector", base, "--token-file", filepath.Join(dir, "op")}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `duplicate.csv:4: duplicate target "29palms-gov" (first on line 2)`) {
		t.Fatalf("bad file through the API: %v", err)
	}
}

// Issue 22: the offline import into a data directory of an older release
// imports its targets.json into the state database first (renamed, said
// on stderr), then the file given; the zone commands read them there.
func TestTargetsImportUpgradesDataDir(t *testing.T) {
	data := t.TempDir()
	legacy := filepath.Join(data, "state", "targets.json")
	old, err := inventory.Open(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Upsert([]target.Target{{ID: "grid", Sector: "energy", URL: "https://grid.test/"}}, false); err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(t.TempDir(), "t.csv")
	os.WriteFile(csv, []byte("id,sector,url\ngrid,energy,https://grid.test/\nbank,finance,https://bank.test/\n"), 0o644)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"targets", "import", "--csv", csv, "--data", data}, &out, &errb); err != nil ||
		!strings.HasPrefix(out.String(), "imported: 1 added, 0 changed, 1 unchanged") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if _, err := os.Stat(legacy + ".imported"); err != nil || !strings.Contains(errb.String(), "targets.json.imported") {
		t.Fatalf("file not renamed (%v) or not said: %s", err, errb.String())
	}
	db, err := state.Open(filepath.Join(data, "state", "bulwark.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ts, v, err := db.TargetsSince(context.Background(), 0); err != nil || len(ts) != 2 || v != 2 {
		t.Fatalf("state holds %d targets at version %d: %v", len(ts), v, err)
	}
}
