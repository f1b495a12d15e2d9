// Package compose holds the one-host compose file; the test reads it as
// a compose file and checks what it promises.
package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string
			ReadOnly    bool     `yaml:"read_only"`
			User        string   `yaml:"user"`
			CapDrop     []string `yaml:"cap_drop"`
			SecurityOpt []string `yaml:"security_opt"`
			Volumes     []string
			Ports       []string
		}
		Volumes map[string]any
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Services) != 4 {
		t.Errorf("services: %v", c.Services)
	}
	for name, s := range c.Services {
		if !s.ReadOnly {
			t.Errorf("%s: the root filesystem is writable", name)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond loopback", name, p)
			}
		}
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, "../") {
				if _, err := os.Stat(filepath.Clean(src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if !strings.HasPrefix(src, "./") && c.Volumes != nil {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s: volume %s is not declared", name, src)
				}
			}
		}
		if strings.HasPrefix(s.Image, "bulwark") && (s.User != "65532:65532" || len(s.CapDrop) != 1 || s.CapDrop[0] != "ALL" || len(s.SecurityOpt) == 0) {
			t.Errorf("%s: %+v (want the non-root user, no capabilities, no-new-privileges)", name, s)
		}
	}
}
