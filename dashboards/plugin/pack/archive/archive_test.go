package archive

import (
	"archive/zip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPack builds the real back end, packs the plugin as `make plugin`
// does, and checks the archive: one folder named after the plugin id,
// the manifest with its version, the front end, and an executable back
// end that answers Grafana's -buildinfo probe.
func TestPack(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gpx_bulwark_linux_amd64")
	// The flags of `make plugin` but -trimpath (which would rebuild every package outside the test's cache).
	build := exec.Command("go", "build", "-ldflags", `-s -w -X github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON={"pluginID":"`+ID+`","version":"1.2.3"}`,
		"-o", bin, "../../../../cmd/bulwark-datasource")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	name, err := Pack("../..", bin, "1.2.3", filepath.Join(dir, "dist"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(name)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	for _, want := range []string{"plugin.json", "module.js", "img/logo.svg", "gpx_bulwark_linux_amd64"} {
		if files[ID+"/"+want] == nil {
			t.Errorf("the archive lacks %s/%s", ID, want)
		}
	}
	rc, _ := files[ID+"/plugin.json"].Open()
	manifest, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(manifest), `"version": "1.2.3"`) || strings.Contains(string(manifest), "%") {
		t.Errorf("manifest: %s", manifest)
	}
	be := files[ID+"/gpx_bulwark_linux_amd64"]
	if be.Mode()&0o111 == 0 {
		t.Errorf("the back end is not executable: %v", be.Mode())
	}
	rc, _ = be.Open()
	extracted := filepath.Join(dir, "extracted")
	b, _ := io.ReadAll(rc)
	rc.Close()
	os.WriteFile(extracted, b, 0o755)
	out, err := exec.Command(extracted, "-buildinfo").Output()
	if err != nil || !strings.Contains(string(out), `"pluginID":"`+ID+`"`) {
		t.Errorf("the packed back end does not answer -buildinfo: %v %s", err, out)
	}
}
