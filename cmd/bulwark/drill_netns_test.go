package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwarkhq/bulwark/agent"
	"github.com/bulwarkhq/bulwark/agent/agentconfig"
	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
	"github.com/bulwarkhq/bulwark/internal/configfile"
	"github.com/bulwarkhq/bulwark/internal/demo"
	"github.com/bulwarkhq/bulwark/internal/target"
)

// The namespaces' network: the services' host has the gateway address,
// a foreign provider's address and a domestic one; the agent's host one.
const (
	nsNet      = "10.77.0.0/24"
	nsSvcHost  = "10.77.0.1"
	nsForeign  = "10.77.0.10"
	nsDomestic = "10.77.0.20"
	nsAgent    = "10.77.0.2"
)

// TestDrillAcrossNetworkNamespaces runs the services in one network
// namespace and the collector with an agent in another, joined by a veth
// pair, both made by this test: a drill cutting the foreign provider's
// address takes its service down in the drill's series, over a real
// network path, while the domestic one and production stay up.
func TestDrillAcrossNetworkNamespaces(t *testing.T) {
	ip := needNetns(t)
	suffix := make([]byte, 3)
	rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	svcNS, agentNS := "bwsvc-"+id, "bwagt-"+id
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sh("netns", "add", svcNS)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", svcNS).Run() })
	sh("netns", "add", agentNS)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", agentNS).Run() })
	sh("link", "add", "bws"+id, "type", "veth", "peer", "name", "bwa"+id)
	sh("link", "set", "bws"+id, "netns", svcNS)
	sh("link", "set", "bwa"+id, "netns", agentNS)
	for _, a := range []string{nsSvcHost, nsForeign, nsDomestic} {
		sh("-n", svcNS, "addr", "add", a+"/24", "dev", "bws"+id)
	}
	sh("-n", agentNS, "addr", "add", nsAgent+"/24", "dev", "bwa"+id)
	for ns, dev := range map[string]string{svcNS: "bws" + id, agentNS: "bwa" + id} {
		sh("-n", ns, "link", "set", "lo", "up")
		sh("-n", ns, "link", "set", dev, "up")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	svc := exec.CommandContext(ctx, ip, "netns", "exec", svcNS, self, "-test.run=^TestNetnsHelper$")
	svc.Env = append(os.Environ(), "BULWARK_NETNS_ROLE=services")
	out, _ := svc.StdoutPipe()
	svc.Stderr = os.Stderr
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { svc.Process.Kill(); svc.Wait() }()
	dnsAddr := ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "dns "); ok {
			dnsAddr = a
			break
		}
	}
	if dnsAddr == "" {
		t.Fatal("the services did not start")
	}
	drill := exec.CommandContext(ctx, ip, "netns", "exec", agentNS, self, "-test.run=^TestNetnsHelper$", "-test.v")
	drill.Env = append(os.Environ(), "BULWARK_NETNS_ROLE=drill", "BULWARK_NETNS_DNS="+dnsAddr)
	b, err := drill.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "--- PASS: TestNetnsHelper") {
		t.Fatalf("the drill in namespace %s: %v\n%s", agentNS, err, b)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "netns:") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// needNetns returns ip(8) when this process may make network namespaces
// (root, iproute2), or fails under CI and skips elsewhere.
func needNetns(t *testing.T) string {
	t.Helper()
	ip, err := exec.LookPath("ip")
	msg := ""
	switch {
	case err != nil:
		msg = "ip not found: apt-get install iproute2"
	case os.Geteuid() != 0:
		msg = "network namespaces need root"
	}
	if msg == "" {
		name := "bwprobe-" + fmt.Sprint(os.Getpid())
		if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
			msg = fmt.Sprintf("cannot make a network namespace: %v %s", err, out)
		} else {
			exec.Command(ip, "netns", "del", name).Run()
		}
	}
	if msg != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return ip
}

// TestNetnsHelper is what TestDrillAcrossNetworkNamespaces runs inside its
// namespaces; on its own it does nothing.
func TestNetnsHelper(t *testing.T) {
	switch os.Getenv("BULWARK_NETNS_ROLE") {
	case "services":
		netnsServices(t)
	case "drill":
		netnsDrill(t)
	}
}

// netnsServices serves two plain HTTP services and their DNS until killed.
func netnsServices(t *testing.T) {
	dns, err := demo.NewDNSServerAt(nsSvcHost)
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"foreign": nsForeign, "domestic": nsDomestic} {
		host := name + ".netns.test."
		dns.Set(host, 1, fmt.Sprintf("%s 60 IN A %s", host, addr))
		ln, err := net.Listen("tcp", addr+":80")
		if err != nil {
			t.Fatal(err)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, name) }))
	}
	fmt.Println("dns " + dns.Addr)
	select {}
}

// netnsDrill runs a collector and an agent, starts a drill cutting the
// foreign address, and checks what the probes saw across the veth.
func netnsDrill(t *testing.T) {
	dir := t.TempDir()
	agents, users := auth.NewAgents(), auth.NewUsers()
	agents.Add("agent-token", auth.Identity{Agent: "ns-agent", Vantage: "home", Country: "XA"})
	users.Add("op-token", false, auth.User{ID: "planner", Role: auth.RoleOperator})
	os.WriteFile(filepath.Join(dir, "op.token"), []byte("op-token\n"), 0o600)
	cfg := collectorconfig.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Targets = []target.Target{{ID: "foreign-portal", Sector: "government", URL: "http://foreign.netns.test/", Timeout: configfile.Duration(2 * time.Second)},
		{ID: "domestic-portal", Sector: "government", URL: "http://domestic.netns.test/", Timeout: configfile.Duration(2 * time.Second)}}
	cfg.Attribution.Interval = configfile.Duration(2 * time.Second)
	app, err := collector.New(collector.Options{Config: &cfg, Agents: agents, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the namespace's own loopback
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	defer app.Stop(context.Background())
	ac := agentconfig.Default()
	ac.Collector.URL, ac.Collector.AgentID, ac.Collector.PullTargets = "http://"+app.Addr(), "ns-agent", true
	ac.Collector.PullInterval = configfile.Duration(time.Second)
	ac.Network = agentconfig.Network{Resolver: os.Getenv("BULWARK_NETNS_DNS"), SourceAddress: nsAgent}
	ac.Queue.Dir = filepath.Join(dir, "queue")
	ac.Defaults.Schedule, ac.Defaults.DepsSchedule = "@every 1s", "off"
	a, err := agent.New(agent.Options{Config: &ac, Token: "agent-token", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go a.Run(ctx)
	dw := &drillWorld{base: "http://" + app.Addr(), opFile: filepath.Join(dir, "op.token")}
	eventually(t, 20*time.Second, "both services answer in production", func() bool {
		up := dw.query(t, `probe_success{check="http",drill=""} == 1`)
		return len(up) == 2
	})
	got := dw.cli(t, "drill", "start", "--cut", "cidr="+nsForeign+"/32", "--for", "1m")
	drillID := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(got, "drill "))[0], ":")
	started := time.Now()
	eventually(t, 20*time.Second, "the foreign service is down under the drill, the domestic one up", func() bool {
		down := dw.query(t, fmt.Sprintf(`probe_success{check="http",drill=%q} == 0`, drillID))
		up := dw.query(t, fmt.Sprintf(`probe_success{check="http",drill=%q} == 1`, drillID))
		_, fd := down["foreign-portal"]
		_, du := up["domestic-portal"]
		return fd && du
	})
	t.Logf("netns: the cut took the foreign service down in the drill series %.1fs after the start", time.Since(started).Seconds())
	if r := dw.query(t, fmt.Sprintf(`probe_failure_info{drill=%q,reason="drill_cut"}`, drillID)); len(r) == 0 {
		t.Error("the drill's failures do not say drill_cut")
	}
	if up := dw.query(t, `probe_success{check="http",drill="",target="foreign-portal"} == 1`); len(up) != 1 {
		t.Error("production saw the drill's cut")
	}
}
