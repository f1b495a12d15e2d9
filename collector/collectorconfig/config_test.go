package collectorconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/internal/configfile"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Storage.Retention) != 30*24*time.Hour || c.Limits.MaxSeriesPerRequest != 5000 || len(c.Agents) != 2 {
		t.Fatalf("loaded %+v", c)
	}
	if l := c.Limits; l.NewSeriesBytesPerMinute != 2<<20 || l.MaxSeriesLabelsBytes != 2048 || l.MaxRequestsPerAgent != 2 {
		t.Fatalf("ingest byte and concurrency limits: %+v", l)
	}
	t.Setenv("BULWARK_TEST_ABROAD_TOKEN", "abroad-secret")
	if _, err := c.AgentTable(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BULWARK_TEST_ABROAD_TOKEN", "")
	if _, err := c.AgentTable(); err == nil || err.Error() != `agent "abroad-1": environment variable BULWARK_TEST_ABROAD_TOKEN is empty or unset` {
		t.Fatalf("AgentTable with empty env: %v", err)
	}
}

func TestLoadInvalid(t *testing.T) {
	cases := map[string]string{
		"invalid-unknown-key.yml":     `testdata/invalid-unknown-key.yml:3: unknown key "retension"`,
		"invalid-listen.yml":          `testdata/invalid-listen.yml:1: listen: "9400" is not host:port`,
		"invalid-duplicate-agent.yml": `testdata/invalid-duplicate-agent.yml:5: agents[1].id: duplicate agent id "home-1" (first at agents[0])`,
		"invalid-no-vantage.yml":      `testdata/invalid-no-vantage.yml:2: agents[0]: agent "home-1" needs a vantage (home, abroad, an ISP name)`,
		"invalid-two-tokens.yml":      `testdata/invalid-two-tokens.yml:2: agents[0]: agent "home-1" needs exactly one of token_file, token_env, token_sha256 (or a cert_name alone)`,
		"invalid-country.yml":         `testdata/invalid-country.yml:4: agents[0].country: "Arcadia" is not a two-letter country code`,
		"invalid-retention.yml":       `testdata/invalid-retention.yml:2: invalid duration "forever"`,
		"invalid-policy.yml":          `testdata/invalid-policy.yml:3: attribution.policy.home: "Arcadia" is not a two-letter ISO 3166 country code`,
		"invalid-agent-id.yml":        `testdata/invalid-agent-id.yml:2: agents[0].id: agent id "Home_1" must be lower-case letters, digits and dashes`,
		"invalid-duplicate-user.yml":  `testdata/invalid-duplicate-user.yml:3: users[1].id: duplicate user id "vera" (first at users[0])`,
		"invalid-anonymous-role.yml":  `testdata/invalid-anonymous-role.yml:2: auth.anonymous_role: role "operator-ish" must be viewer, operator or admin (or left out)`,
		"invalid-web.yml":             `testdata/invalid-web.yml:2: web.max_connections: must be at least 16`,
		"invalid-query.yml":           `testdata/invalid-query.yml:3: query.max_label_bytes: must be at least 1048576 (1 MiB)`,
		"invalid-email.yml":           `testdata/invalid-email.yml:4: alerting.receivers[0].email: email: smarthost "mail.cert.example" is not host:port`,
		"invalid-slack-webhook.yml":   `testdata/invalid-slack-webhook.yml:4: alerting.receivers[0].slack: webhook_url_file goes alone: an incoming webhook has its channel and no token`,
		"invalid-route-tree.yml":      `testdata/invalid-route-tree.yml:5: alerting.routes: routes[0].routes[0]: no receiver named "energy-duty"`,
		"invalid-drill.yml":           `testdata/invalid-drill.yml:5: drills[0].duration: must be more than 0 and at most 24h`,
		// Issue 19 item 12 and "a slack_users entry naming no user".
		"invalid-exec-allow-bare.yml":     `testdata/invalid-exec-allow-bare.yml:4: playbooks.exec_allow[1]: command "ok.sh" must be an absolute, clean path (like /usr/local/bin/ok.sh)`,
		"invalid-exec-allow-relative.yml": `testdata/invalid-exec-allow-relative.yml:2: playbooks.exec_allow[0]: command "./bin/ok.sh" must be an absolute, clean path (like /usr/local/bin/ok.sh)`,
		"invalid-exec-allow-unclean.yml":  `testdata/invalid-exec-allow-unclean.yml:3: playbooks.exec_allow[0]: command "/usr/../bin/renew" must be an absolute, clean path (like /bin/renew)`,
		"invalid-slack-users.yml":         `testdata/invalid-slack-users.yml:6: alerting.slack_users.U0GHOST: Slack user U0GHOST is mapped to "ghost", which is no configured user`,
		"invalid-slack-users-empty.yml":   `testdata/invalid-slack-users-empty.yml:3: alerting.slack_users.U0NOBODY: Slack user U0NOBODY is mapped to "", which is no configured user`,
		// Issue 20: a tree that can drop alerts, a zero interval, a drill route that
		// selects, a matcher that does not parse.
		"invalid-route-catchall.yml": `testdata/invalid-route-catchall.yml:5: alerting.routes: no route takes every alert, so an alert none matches would be dropped: end the list with a route with a receiver and no matchers`,
		"invalid-route-interval.yml": `testdata/invalid-route-interval.yml:5: alerting.routes: routes[0]: group_interval cannot be zero`,
		"invalid-drill-route.yml":    `testdata/invalid-drill-route.yml:7: alerting.drill_route: the drill route takes every drill alert: put matchers on its child routes`,
		"invalid-route-matchers.yml": `testdata/invalid-route-matchers.yml:8: matcher "sector=~\"energy": matcher value contains unescaped double quote: "energy`,
	}
	files, _ := filepath.Glob("testdata/invalid-*.yml")
	if len(files) != len(cases) {
		t.Errorf("%d invalid-*.yml files but %d cases", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", name))
			if err == nil || err.Error() != want {
				t.Errorf("error\n got: %v\nwant: %s", err, want)
			}
		})
	}
}

// Two users, or a user and an agent, with one token: the token would not
// say who is calling (issue 8: the last one won).
func TestSharedTokens(t *testing.T) {
	h := auth.Hash("same")
	for name, c := range map[string]Config{
		"two users": {Users: []User{{ID: "a", Role: "viewer", TokenSHA256: h}, {ID: "b", Role: "admin", TokenSHA256: h}}},
		"agent and user": {Agents: []Agent{{ID: "home-1", Vantage: "home", TokenSHA256: h}},
			Users: []User{{ID: "b", Role: "admin", TokenSHA256: h}}},
	} {
		_, _, err := c.Tables()
		if err == nil || !strings.Contains(err.Error(), "share a token") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz.yml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Skip()
		}
		if c, err := Load(p); err == nil && len(c.Validate()) > 0 {
			t.Fatal("Load accepted a configuration that does not validate")
		}
	})
}

// Issue 20, defect 13: group_wait: 0s in the file reaches the routes as
// zero, not as the 30s default; an unset timing still gets it.
func TestZeroGroupWaitLoaded(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bulwark.yml")
	os.WriteFile(f, []byte(`alerting:
  receivers: [{name: duty, webhook: {url: "https://hooks.cert.example/duty"}}]
  routes:
    - receiver: duty
      group_wait: 0s
      routes: [{match: {sector: energy}}]
    - receiver: duty
`), 0o600)
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := alerting.PrepareRoutes(c.Alerting.Routes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p[0].GroupWait != 0 || p[0].Routes[0].GroupWait != 0 || p[1].GroupWait != configfile.Duration(30*time.Second) {
		t.Errorf("group_wait: %v, child %v, unset %v", p[0].GroupWait, p[0].Routes[0].GroupWait, p[1].GroupWait)
	}
}
