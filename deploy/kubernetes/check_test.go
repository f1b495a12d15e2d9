package kubernetes

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// render renders the chart with over on top of its values, as
// `helm template bw --namespace bulwark` would, and returns the stream of
// its manifests in the order of their file names.
func render(t *testing.T, over map[string]any) string {
	t.Helper()
	ch, err := loader.Load("chart/bulwark")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := chartutil.ToRenderValues(ch, over, chartutil.ReleaseOptions{Name: "bw", Namespace: "bulwark", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(ch, vals)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if strings.HasSuffix(name, ".yaml") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var stream strings.Builder
	for _, name := range names {
		fmt.Fprintf(&stream, "\n---\n# %s\n%s", name, files[name])
	}
	return stream.String()
}

// binDir is where binaries built them, removed by TestMain.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds bulwark and bulwark-agent from this tree once per run.
var binaries = sync.OnceValues(func() (string, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "bulwark-deploy-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/bulwark", "./cmd/bulwark-agent")
	build.Dir = root // the root module, with the test's own build settings so the cache serves it
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, nil
})

var secretPath = regexp.MustCompile(`(?m)(?:token_file|dsn_file|bearer_token_file): (\S+?)[,}]?$|token_file: ([^,}\s]+)`)

// check runs `bulwark check` or `bulwark-agent check` on a configuration
// rendered for a pod, its absolute paths moved under a temporary directory
// and each secret file it names made (with its own content, so no two
// tokens are alike). It returns the command's error and output.
func check(t *testing.T, name, config string) (string, error) {
	t.Helper()
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config = strings.NewReplacer("/etc/bulwark/", dir+"/etc/", "/var/lib/", dir+"/var/").Replace(config)
	for _, m := range secretPath.FindAllStringSubmatch(config, -1) {
		p := m[1] + m[2]
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte("secret "+p+"\n"), 0o600)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := "bulwark"
	if name == "bulwark-agent.yml" {
		cmd = "bulwark-agent"
	}
	out, err := exec.Command(filepath.Join(bin, cmd), "check", "--config", file).CombinedOutput()
	return string(out), err
}

// checkConfigs runs check on every configuration file in the ConfigMaps;
// a refusal that names an entry of skipKeys (a key another branch adds)
// skips the test at the end instead, naming it.
func checkConfigs(t *testing.T, objs map[string][]any, skipKeys map[string]string) (n int) {
	var skipped []string
	t.Helper()
	for _, c := range objs["ConfigMap"] {
		cm := c.(*corev1.ConfigMap)
		for k, v := range cm.Data {
			if k != "bulwark.yml" && k != "bulwark-agent.yml" {
				continue
			}
			n++
			out, err := check(t, k, v)
			if err == nil && strings.Contains(out, ": valid (") {
				continue
			}
			missing := ""
			for key, why := range skipKeys {
				if strings.Contains(out, `unknown key "`+key+`"`) || strings.Contains(out, "field "+key+" not found") {
					missing = fmt.Sprintf("ConfigMap %s/%s: this tree does not know %s yet (%s): %s", cm.Name, k, key, why, out)
				}
			}
			if missing != "" {
				skipped = append(skipped, missing)
				continue
			}
			t.Errorf("ConfigMap %s/%s: check: %v\n%s\n%s", cm.Name, k, err, out, v)
		}
	}
	if len(skipped) > 0 {
		// After every other file was checked: a failure above still fails.
		t.Skip(strings.Join(skipped, "\n"))
	}
	return n
}

// TestHelmDefaultConfigsValid renders the chart's own values and runs the
// binaries' check on each configuration it writes: the collector's and
// the agent's must start as rendered.
func TestHelmDefaultConfigsValid(t *testing.T) {
	objs := objects(t, render(t, nil))
	if n := checkConfigs(t, objs, nil); n != 2 {
		t.Errorf("%d configuration files checked, want 2 (the collector's and the agent's)", n)
	}
}

// TestHelmAgentConfigRefusesCollectorSection: the chart writes the agent's
// collector and queue sections, so a config repeating them (a duplicate
// key the agent would refuse at start) is refused at render time.
func TestHelmAgentConfigRefusesCollectorSection(t *testing.T) {
	ch, err := loader.Load("chart/bulwark")
	if err != nil {
		t.Fatal(err)
	}
	over := map[string]any{"agents": []any{map[string]any{"name": "a", "vantage": "home", "token": "t", "config": "collector: {pull_targets: true}\n"}}}
	vals, err := chartutil.ToRenderValues(ch, over, chartutil.ReleaseOptions{Name: "bw", Namespace: "bulwark", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Render(ch, vals); err == nil || !strings.Contains(err.Error(), "leave collector and queue out of config") {
		t.Errorf("render: %v, want the chart to refuse a collector section in config", err)
	}
}

// TestHelmDefaultsGolden: the chart's own values render byte for byte as
// testdata/default.golden (refresh with -update when a change is meant).
func TestHelmDefaultsGolden(t *testing.T) {
	got := render(t, nil)
	golden := filepath.Join("testdata", "default.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the default values render differently from %s (run with -update if meant):\n%s", golden, got)
	}
}
