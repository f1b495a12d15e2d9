package agentconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) != 2 || c.Targets[0].Schedule != "@every 15s" || c.Targets[1].Schedule != "*/5 * * * *" {
		t.Fatalf("schedules not defaulted: %+v", c.Targets)
	}
	if time.Duration(c.Targets[0].Timeout) != 10*time.Second || time.Duration(c.Targets[1].Timeout) != 5*time.Second {
		t.Fatalf("timeouts: %v %v", c.Targets[0].Timeout, c.Targets[1].Timeout)
	}
	if c.Collector.BatchSize != 2000 || c.Network.SourceAddress != "127.100.0.1" {
		t.Fatalf("collector/network: %+v %+v", c.Collector, c.Network)
	}
}

// One file per rule, with the exact message an operator reads.
func TestLoadInvalid(t *testing.T) {
	cases := map[string]string{
		"invalid-unknown-key.yml":    `testdata/invalid-unknown-key.yml:7: unknown key "scheduel"`,
		"invalid-schedule.yml":       `testdata/invalid-schedule.yml:7: targets[0].schedule: invalid schedule "every 30s": expected 5 to 6 fields, found 2: [every 30s]`,
		"invalid-duplicate-id.yml":   `testdata/invalid-duplicate-id.yml:7: targets[1].id: duplicate id "grid-portal" (first at targets[0])`,
		"invalid-url.yml":            `testdata/invalid-url.yml:6: targets[0].url: url "ftp://grid-portal.arcadia.test/" is not an absolute http or https URL`,
		"invalid-missing-sector.yml": `testdata/invalid-missing-sector.yml:4: targets[0].sector: a target needs a sector (energy, finance, government, ...)`,
		"invalid-id.yml":             `testdata/invalid-id.yml:4: targets[0].id: id "Grid Portal" must be lower-case letters, digits and dashes (a slug)`,
		"invalid-collector-url.yml":  `testdata/invalid-collector-url.yml:2: collector.url: "127.0.0.1:9400" is not an http or https URL`,
		"invalid-no-targets.yml":     `testdata/invalid-no-targets.yml:1: no targets: add at least one under targets, or set collector.pull_targets`,
		"invalid-timeout.yml":        `testdata/invalid-timeout.yml:7: invalid duration "ten seconds"`,
		"invalid-status-code.yml":    `testdata/invalid-status-code.yml:7: targets[0].http: status code 700 is not between 100 and 599`,
		"invalid-reserved-label.yml": `testdata/invalid-reserved-label.yml:7: targets[0].labels: label "vantage" is set by Bulwark and cannot be given`,
		// Issue 8: the TLS prober writes country; a target label of that name
		// made the collector refuse whole batches at run time.
		"invalid-prober-label.yml":        `testdata/invalid-prober-label.yml:7: targets[0].labels: label "country" is set by Bulwark and cannot be given`,
		"invalid-source-address.yml":      `testdata/invalid-source-address.yml:4: network.source_address: "home-isp" is not an IP address`,
		"invalid-yaml.yml":                `testdata/invalid-yaml.yml:5: invalid YAML: mapping values are not allowed in this context`,
		"invalid-empty.yml":               `testdata/invalid-empty.yml:1: the file is empty`,
		"invalid-criticality.yml":         `testdata/invalid-criticality.yml:6: targets[0].criticality: criticality 5 is not between 1 and 3`,
		"invalid-queue.yml":               `testdata/invalid-queue.yml:4: queue.max_bytes: must be at least 1 MiB (1048576)`,
		"invalid-collector-urls-both.yml": `testdata/invalid-collector-urls-both.yml:3: collector.urls: set url or urls, not both (url is urls with one element)`,
		"invalid-collector-urls-name.yml": `testdata/invalid-collector-urls-name.yml:4: collector.urls[1]: https://collector-b.arcadia.test:9400/ names a second collector "collector-a.arcadia.test:9400" (first at urls[0]): give each a distinct name`,
		"invalid-collector-urls-key.yml":  `testdata/invalid-collector-urls-key.yml:4: unknown key "tokenfile"`,
		"invalid-collector-urls-url.yml":  `testdata/invalid-collector-urls-url.yml:4: collector.urls[1]: "collector-b.arcadia.test:9400" is not an http or https URL`,
	}
	files, _ := filepath.Glob("testdata/invalid-*.yml")
	if len(files) != len(cases) {
		t.Errorf("%d invalid-*.yml files but %d cases: every file needs its message", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", name))
			if err == nil {
				t.Fatal("loaded without error")
			}
			if err.Error() != want {
				t.Errorf("error\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

func TestToken(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "token")
	os.WriteFile(f, []byte("s3cret\n"), 0o600)
	c := Collector{TokenFile: f}
	if tok, err := c.Token(); err != nil || tok != "s3cret" {
		t.Fatalf("Token() = %q, %v", tok, err)
	}
	t.Setenv("BULWARK_TEST_TOKEN", "")
	c = Collector{TokenEnv: "BULWARK_TEST_TOKEN"}
	if _, err := c.Token(); err == nil {
		t.Fatal("want error for empty env token")
	}
	// A collector's own token file is read too (bulwark-agent check).
	c = Collector{TokenFile: f, URLs: []Endpoint{{URL: "http://a:9400"}, {URL: "http://b:9400", TokenFile: filepath.Join(dir, "absent")}}}
	if _, err := c.Token(); err == nil || !strings.Contains(err.Error(), "collector b:9400 token") {
		t.Fatalf("an unreadable token_file of one collector: %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"good.yml", "invalid-yaml.yml", "invalid-unknown-key.yml"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz.yml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Skip()
		}
		c, err := Load(p)
		if err == nil && len(c.Targets) == 0 {
			t.Fatal("loaded a config with no targets")
		}
	})
}

// collector.urls: plain URLs and mappings; names from host and path
// unless given; url is urls with one element.
func TestLoadURLs(t *testing.T) {
	c, err := Load("testdata/good-urls.yml")
	if err != nil {
		t.Fatal(err)
	}
	eps := c.Collector.Endpoints()
	var names []string
	for _, e := range eps {
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[collector-a.arcadia.test:9400 collector-b.arcadia.test:9443 third]" {
		t.Fatalf("names %v", names)
	}
	if tok, err := eps[1].Token("shared"); err != nil || tok != "token-of-b" {
		t.Errorf("b's token %q, %v", tok, err)
	}
	if tok, _ := eps[0].Token("shared"); tok != "shared" {
		t.Errorf("a's token %q, want the shared one", tok)
	}
	one := Collector{URL: "http://User:pw@Collector.Example:9400/"}
	if eps := one.Endpoints(); len(eps) != 1 || eps[0].Name != "collector.example:9400" || eps[0].URL != one.URL {
		t.Errorf("url as one endpoint: %+v", eps)
	}
}

// docs/AGENT-HA.md's configuration loads and names its collectors as the
// page says.
func TestAgentHADocConfig(t *testing.T) {
	b, err := os.ReadFile("../../docs/AGENT-HA.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	yml, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/AGENT-HA.md lost its configuration")
	}
	f := filepath.Join(t.TempDir(), "agent.yml")
	os.WriteFile(f, []byte(yml), 0o600)
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range c.Collector.Endpoints() {
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[collector-a.example:9400 collector-b.example:9400 disaster-recovery]" {
		t.Fatalf("names %v", names)
	}
}
