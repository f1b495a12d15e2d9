package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bulwarkhq/bulwark/alerting"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/collector/zone"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/playbooks"
)

// demoPlaybooks are the example playbooks the demo runs: those that act
// only through notifications, approvals, checklists, waits and HTTP calls
// (which the demo points at its own receiver). certificate-expiring runs
// a command and is left out.
func demoPlaybooks() []string {
	return []string{"portal-down-everywhere.yml", "foreign-cdn-outage.yml", "dns-moved-abroad.yml"}
}

// journeys is what the demo adds so that every user's journey can be
// walked: the example playbooks wired to its alerts, a receiver on
// loopback that logs what playbooks and drills send, a drill route to it,
// RTO targets, and the national zone imported for the DNS report.
type journeys struct {
	srv  *http.Server
	base string // the receiver's http://127.0.0.1:PORT
}

// startJourneys starts the demo's receiver and writes cfg's journeys:
// receivers cert-duty, soc and drill-log (webhooks to the receiver), the
// drill route, the playbooks (under dataDir/playbooks), RTOs on the
// targets, and the zone (imported into dataDir's state).
// every is the demo's probe interval: drill alerts are grouped at the
// pace of production's.
func startJourneys(o demoOptions, world *demo.World, cfg *collectorconfig.Config, every time.Duration) (*journeys, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: receiver: %w", err)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	j := &journeys{base: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: &hookPrinter{w: out}, ReadHeaderTimeout: 5 * time.Second}}
	go j.srv.Serve(ln)
	if err := j.configure(o.DataDir, world, cfg, every); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

func (j *journeys) configure(dataDir string, world *demo.World, cfg *collectorconfig.Config, every time.Duration) error {
	for _, name := range []string{"cert-duty", "soc", "drill-log"} {
		cfg.Alerting.Receivers = append(cfg.Alerting.Receivers,
			collectorconfig.Receiver{Name: name, Webhook: &collectorconfig.WebhookReceiver{URL: j.base + "/" + name}})
	}
	cfg.Alerting.DrillRoute = &alerting.Route{Receiver: "drill-log", GroupWait: configfile.Duration(2 * every), GroupInterval: configfile.Duration(5 * every)}
	for i := range cfg.Targets {
		if cfg.Targets[i].RTO == 0 {
			cfg.Targets[i].RTO = configfile.Duration(demo.RTO(cfg.Targets[i].Criticality))
		}
	}
	dir := filepath.Join(dataDir, "playbooks")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// The examples' APIs are the demo receiver's: their calls land in its log.
	apis := strings.NewReplacer("https://hosting.example.gov", j.base+"/hosting", "https://dns.example.gov", j.base+"/dns")
	for _, name := range demoPlaybooks() {
		b, err := fs.ReadFile(playbooks.Examples(), name)
		if err != nil {
			return fmt.Errorf("demo: playbook %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(apis.Replace(string(b))), 0o600); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "hosting-api.token"), []byte("Bearer demo-hosting-token\n"), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg.Playbooks.Files = []string{filepath.Join(dir, "*.yml")}
	zf := filepath.Join(dataDir, "world", demo.Zone+".zone")
	if err := os.WriteFile(zf, []byte(world.ZoneText(time.Now())), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	snap, err := zone.ParseFile(zf, "")
	if err != nil {
		return fmt.Errorf("demo: zone: %w", err)
	}
	if _, err := zone.NewStore(filepath.Join(dataDir, "state", "zone")).Save(snap); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// Close stops the receiver.
func (j *journeys) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := j.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		j.srv.Close()
	}
}

// hookPrinter prints each request it gets as one line: what a playbook
// or a drill would have sent to a chat, a hosting provider or a DNS API.
type hookPrinter struct {
	mu sync.Mutex
	w  io.Writer
}

func (h *hookPrinter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	body := strings.Join(strings.Fields(string(b)), " ")
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	h.mu.Lock()
	fmt.Fprintf(h.w, "[demo receiver] %s %s %s\n", r.Method, r.URL.Path, body)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}
