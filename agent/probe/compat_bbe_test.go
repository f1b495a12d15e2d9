package probe

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The same servers probed by blackbox_exporter itself (Debian's
// prometheus-blackbox-exporter, 0.23 here): every series it exposes is in
// bbeSeries, and Bulwark's probe of the same server exposes it with the
// same labels and phases. Skipped when the binary is absent, except in a
// CI run that installed the benchmark dependencies.
func TestBlackboxExporterSameNames(t *testing.T) {
	bin, err := exec.LookPath("prometheus-blackbox-exporter")
	if err != nil {
		if os.Getenv("CI") == "true" && os.Getenv("WITH_BENCH_DEPS") == "1" {
			t.Fatal(err)
		}
		t.Skip("prometheus-blackbox-exporter not installed (apt-get install prometheus-blackbox-exporter)")
	}
	w := startCompatWorld(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, w.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`modules:
  http: {prober: http, http: {preferred_ip_protocol: ip4}}
  https: {prober: http, http: {preferred_ip_protocol: ip4, tls_config: {ca_file: %[1]q}}}
  tcp: {prober: tcp, tcp: {preferred_ip_protocol: ip4, query_response: [{expect: "^220"}]}}
  tcp_tls: {prober: tcp, tcp: {preferred_ip_protocol: ip4, tls: true, tls_config: {ca_file: %[1]q}}}
  dns: {prober: dns, dns: {preferred_ip_protocol: ip4, query_name: example.test, query_type: SOA}}
`, ca)
	if err := os.WriteFile(filepath.Join(dir, "bb.yml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startBlackbox(t, bin, filepath.Join(dir, "bb.yml"))
	targets := map[string]string{"http": w.httpURL, "https": w.httpsURL, "tcp": w.tcpAddr, "tcp_tls": w.tlsAddr, "dns": w.dnsAddr}
	env := &Env{RootCAs: w.roots}
	probes := w.compatProbes()
	for module, tgt := range targets {
		theirs := scrapeProbe(t, base+"/probe?module="+module+"&target="+url.QueryEscape(tgt))
		if got := theirs.values["probe_success"]; got != "1" {
			t.Fatalf("blackbox_exporter's %s probe of %s: probe_success %q", module, tgt, got)
		}
		bulwark := []string{module}
		if module == "tcp_tls" {
			bulwark = append(bulwark, "tls")
		}
		for _, b := range bulwark {
			p := probes[b]
			res := Run(t.Context(), p.check, p.t, env)
			ours, phases := labelSets(res.Metrics)
			for name, ls := range theirs.labels {
				if name == "probe_ssl_last_chain_info" || (b == "tls" && name == "probe_failed_due_to_regex") {
					continue // left out on purpose (see bbeSeries); the tls check has no expect steps
				}
				if e, ok := bbeSeries[name]; !ok || !slices.Contains(e.probes, b) {
					t.Errorf("blackbox_exporter's %s probe exposes %s%v, which bbeSeries does not list for %s", module, name, ls, b)
				}
				if got, ok := ours[name]; !ok || !slices.Equal(got, ls) {
					t.Errorf("%s: blackbox_exporter exposes %s%v, Bulwark %v (present %v)", b, name, ls, got, ok)
				}
				if want := theirs.phases[name]; len(want) > 0 && !slices.Equal(slices.Sorted(slices.Values(phases[name])), want) {
					t.Errorf("%s: %s phases %v, blackbox_exporter's %v", b, name, phases[name], want)
				}
			}
		}
	}
}

// startBlackbox runs blackbox_exporter on a loopback port of its choosing
// and returns its base URL once it listens.
func startBlackbox(t *testing.T, bin, config string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, "--config.file="+config, "--web.listen-address=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg="Listening on" address=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(10 * time.Second):
		t.Fatal("blackbox_exporter did not say where it listens within 10s")
	}
	return ""
}

// exposition is what one scrape of /probe returned: per series name its
// sorted label names, the values of unlabelled series, and phases.
type exposition struct {
	labels map[string][]string
	values map[string]string
	phases map[string][]string
}

func scrapeProbe(t *testing.T, u string) exposition {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	e := exposition{labels: map[string][]string{}, values: map[string]string{}, phases: map[string][]string{}}
	pair := regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		var ls []string
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name = line[:i]
			j := strings.LastIndexByte(line, '}')
			for _, m := range pair.FindAllStringSubmatch(line[i+1:j], -1) {
				ls = append(ls, m[1])
				if m[1] == "phase" {
					e.phases[name] = append(e.phases[name], m[2])
				}
			}
		} else {
			e.values[name] = rest
		}
		slices.Sort(ls)
		e.labels[name] = ls
	}
	for n := range e.phases {
		slices.Sort(e.phases[n])
	}
	return e
}
