package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 21: without a home country nothing can be told foreign, so the DNS
// report says so, and how to give one, instead of "Foreign only: 0
// domains" (which reads as good news). With --home it counts as before.
func TestReportDNSWithoutHome(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	z := filepath.Join(dir, "gov.zone")
	// Two domains whose DNS is at Amazon (US), one at ClouDNS (BG).
	os.WriteFile(z, []byte("$ORIGIN gov.\n@ 3600 IN SOA a.ns.gov. dns.example. 1 3600 900 604800 300\n"+
		"alpha 3600 IN NS ns-1.awsdns-01.com.\nbeta 3600 IN NS ns-2.awsdns-02.com.\ngamma 3600 IN NS pns1.cloudns.net.\n"), 0o644)
	var out, errb bytes.Buffer
	run1 := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := run(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	run1("zone", "import", z, "--data", data)
	got := run1("report", "dns", "--data", data)
	want := "Foreign only:  cannot tell foreign from domestic without a home country: set attribution.policy.home in the collector configuration, or give --home CC\n"
	if !strings.Contains(got, want) || strings.Contains(got, "0 domains (0.0%) depend solely") ||
		strings.Contains(got, "have their DNS entirely under foreign jurisdiction") {
		t.Errorf("report dns without a home country:\n%s", got)
	}
	if got := run1("report", "dns", "--data", data, "--home", "US"); !strings.Contains(got, "Foreign only:  1 domains (33.3%) depend solely on DNS providers under foreign jurisdiction") ||
		!strings.Contains(got, "1 domains have their DNS entirely under foreign jurisdiction.") {
		t.Errorf("report dns --home US:\n%s", got)
	}
}
