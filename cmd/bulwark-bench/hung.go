package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/collector/auth"
)

// startHungServer listens on loopback and accepts connections it never
// answers: a receiver that hangs (until the returned func closes it).
// With answer (a control run), it answers 200 at once instead.
func startHungServer(answer bool) (stop func(), url string, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return func() {}, "", fmt.Errorf("hung receiver: listen: %w", err)
	}
	if answer {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })}
		go srv.Serve(l)
		return func() { srv.Close() }, "http://" + l.Addr().String() + "/hook", nil
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read from or written to
			mu.Unlock()
		}
	}()
	stop = func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
	return stop, "http://" + l.Addr().String() + "/hook", nil
}

// bulwarkHungConfig is the collector's config with two receivers: every
// alert goes first to the hung webhook (a route without matchers, hence
// also the catch-all, that continues) and then, for the built-in outage
// alert, to Slack. It uses nothing a build before the catch-all rule and
// the discard receiver lacks, so a baseline reads it too.
func bulwarkHungConfig(addr, dataDir string, eval time.Duration, slackAPI, hungURL string) string {
	return fmt.Sprintf(`listen: %s
data_dir: %s
agents:
  - {id: bench, vantage: home, token_sha256: %s}
alerting:
  evaluation_interval: %s
  builtin: {down_for: 0s, quorum_agents: 1}
  receivers:
    - name: hung
      webhook: {url: %q}
    - name: duty
      slack: {token_env: BULWARK_BENCH_SLACK_TOKEN, channel: CBENCH, api_url: %q}
  routes:
    - receiver: hung
      continue: true
      group_wait: 1ms
      group_interval: 1s
      repeat_interval: 1h
    - receiver: duty
      match: {alertname: ServiceDownEverywhere}
      group_wait: 1ms
      group_interval: 1s
      repeat_interval: 1h
`, addr, dataDir, auth.Hash(benchToken), eval, hungURL, slackAPI)
}

// alertmanagerConfig routes to the Slack webhook and, with a hung URL,
// to a webhook receiver there as well (continue), as Bulwark's config does.
func alertmanagerConfig(webhook, hungURL string) string {
	head := `route:
  receiver: duty
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
`
	if hungURL != "" {
		head += `  routes:
    - {receiver: hung, continue: true}
    - {receiver: duty}
`
	}
	cfg := head + fmt.Sprintf(`receivers:
  - name: duty
    slack_configs:
      - {api_url: %q, channel: "#bench", send_resolved: false}
`, webhook)
	if hungURL != "" {
		cfg += fmt.Sprintf(`  - name: hung
    webhook_configs:
      - {url: %q, send_resolved: false}
`, hungURL)
	}
	return cfg
}
