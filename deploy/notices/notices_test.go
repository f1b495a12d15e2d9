package notices

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestNoticesCurrent fails when THIRD_PARTY_NOTICES is not what the
// module's dependencies make: run `make notices` and commit it.
func TestNoticesCurrent(t *testing.T) {
	want, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../THIRD_PARTY_NOTICES")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("THIRD_PARTY_NOTICES is stale (%v): run make notices", err)
	}
	for _, m := range []string{"github.com/prometheus/prometheus", "github.com/grafana/grafana-plugin-sdk-go", "github.com/miekg/dns", "modernc.org/sqlite"} {
		if !strings.Contains(string(want), m) {
			t.Errorf("%s is missing", m)
		}
	}
	if strings.Contains(string(want), " see text\n") {
		for _, l := range strings.Split(string(want), "\n") {
			if strings.HasSuffix(l, " see text") {
				t.Logf("licence not recognised (its text is included): %s", strings.TrimSpace(l))
			}
		}
	}
}
