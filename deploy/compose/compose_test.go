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
			Profiles    []string
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
	byProfile := map[string][]string{}
	for name, s := range c.Services {
		if len(s.Profiles) > 1 {
			t.Errorf("%s: profiles %v, want at most one", name, s.Profiles)
		}
		byProfile[strings.Join(s.Profiles, ",")] = append(byProfile[strings.Join(s.Profiles, ",")], name)
	}
	for profile, want := range map[string]int{"": 4, "ha": 2, "vm": 1} {
		if len(byProfile[profile]) != want {
			t.Errorf("profile %q: services %v, want %d", profile, byProfile[profile], want)
		}
	}
	if len(byProfile) != 3 {
		t.Errorf("profiles: %v", byProfile)
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
