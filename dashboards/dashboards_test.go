package dashboards

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// TestJSONIsCurrent fails when json/ is not what the code makes: run
// `go generate ./dashboards` and commit the result.
func TestJSONIsCurrent(t *testing.T) {
	boards, err := All()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, b := range boards {
		want[b.File] = true
		j, err := b.JSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("json", b.File))
		if err != nil || !bytes.Equal(got, j) {
			t.Errorf("json/%s is not what the generator makes (%v): run go generate ./dashboards", b.File, err)
		}
		// Data sources are the dashboard's variable, never a fixed UID.
		for _, m := range regexp.MustCompile(`"uid": "([^"]*)"`).FindAllStringSubmatch(string(j), -1) {
			if m[1] != "${datasource}" && m[1] != b.UID {
				t.Errorf("%s: a fixed data source uid %q", b.File, m[1])
			}
		}
	}
	files, _ := filepath.Glob("json/*.json")
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s is not made by the generator: remove it", f)
		}
	}
	if len(boards) != 5 {
		t.Errorf("%d dashboards, want overview, service, sovereignty, alerting and agents", len(boards))
	}
}

// TestQueriesParse: every panel's query is PromQL once its variables are
// set; panels that may rightly be empty say so in words.
func TestQueriesParse(t *testing.T) {
	boards, err := All()
	if err != nil {
		t.Fatal(err)
	}
	p := parser.NewParser(parser.Options{})
	n := 0
	for _, b := range boards {
		for _, q := range b.Queries {
			n++
			if _, err := p.ParseExpr(Expand(q.Expr, "grid-portal")); err != nil {
				t.Errorf("%s / %s: %v\n%s", q.Dashboard, q.Panel, err, q.Expr)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d panel queries", n)
	}
}

// Issue 21: the boards read blackbox_exporter's names. probe_duration_seconds
// is one unlabelled series per run (no phase), the phases are
// probe_http_duration_seconds{phase}, and the names Bulwark had before are gone.
func TestQueriesUseBlackboxNames(t *testing.T) {
	boards, err := All()
	if err != nil {
		t.Fatal(err)
	}
	renamed := map[string]string{ // old name: blackbox_exporter's
		"probe_tls_earliest_cert_expiry": "probe_ssl_earliest_cert_expiry",
	}
	p := parser.NewParser(parser.Options{})
	for _, b := range boards {
		for _, q := range b.Queries {
			expr, err := p.ParseExpr(Expand(q.Expr, "grid-portal"))
			if err != nil {
				continue // TestQueriesParse reports it
			}
			for _, vs := range parser.ExtractSelectors(expr) {
				var name string
				for _, m := range vs {
					if m.Name == "__name__" {
						name = m.Value
					}
				}
				for _, m := range vs {
					if name == "probe_duration_seconds" && m.Name == "phase" {
						t.Errorf("%s / %s: probe_duration_seconds has no phase label; the phases are probe_http_duration_seconds{phase}", q.Dashboard, q.Panel)
					}
				}
				if name == "probe_tls_cert_expiry_timestamp_seconds" && !bytes.Contains([]byte(q.Expr), []byte(`check="tls"`)) {
					t.Errorf("%s / %s: probe_tls_cert_expiry_timestamp_seconds is the tls check's leaf only; read probe_ssl_earliest_cert_expiry", q.Dashboard, q.Panel)
				}
				if to, ok := renamed[name]; ok {
					t.Errorf("%s / %s: %s is now %s", q.Dashboard, q.Panel, name, to)
				}
			}
		}
	}
}
