// Package grafana holds Grafana's provisioning files for Bulwark; this
// test checks them, as Grafana would read them, against the dashboards.
package grafana

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func strictYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// The keys are those of Grafana's provisioning reference (data sources:
// name, uid, type, access, url, isDefault, editable, jsonData,
// secureJsonData; dashboards: providers with name, folder, type,
// disableDeletion, allowUiUpdates, updateIntervalSeconds, options.path).
func TestProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool              `yaml:"isDefault"`
			Editable                     bool              `yaml:"editable"`
			JSONData                     map[string]any    `yaml:"jsonData"`
			SecureJSONData               map[string]string `yaml:"secureJsonData"`
		}
	}
	strictYAML(t, "provisioning/datasources/bulwark.yaml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("data sources: %+v", ds)
	}
	d := ds.Datasources[0]
	if d.Type != "prometheus" || d.UID == "" || !d.IsDefault || d.JSONData["httpHeaderName1"] != "Authorization" ||
		!strings.HasPrefix(d.SecureJSONData["httpHeaderValue1"], "Bearer ${") || !strings.Contains(d.URL, "${") {
		t.Errorf("data source: %+v (the token must come from the environment, into secure JSON data)", d)
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type    string
			DisableDeletion       bool `yaml:"disableDeletion"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string
				FoldersFromFilesStructure bool `yaml:"foldersFromFilesStructure"`
			}
		}
	}
	strictYAML(t, "provisioning/dashboards/bulwark.yaml", &dash)
	if len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || dash.Providers[0].Options.Path == "" {
		t.Fatalf("dashboard providers: %+v", dash)
	}
	// Every generated dashboard reads the data source through its variable,
	// which a provisioned default data source fills.
	files, _ := filepath.Glob("../../dashboards/json/*.json")
	if len(files) < 5 {
		t.Fatalf("dashboards: %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if !bytes.Contains(b, []byte(`"uid": "${datasource}"`)) {
			t.Errorf("%s does not read the data source variable", f)
		}
	}
}
