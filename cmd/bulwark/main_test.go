package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	var out, errb bytes.Buffer
	t.Setenv("BULWARK_TEST_ABROAD_TOKEN", "x")
	if err := run(context.Background(), []string{"check", "--config", "../../collector/config/testdata/good.yml"}, &out, &errb); err != nil {
		t.Fatalf("check good: %v", err)
	}
	if !strings.Contains(out.String(), "valid (2 agents, 0 targets,") ||
		!strings.Contains(out.String(), "warning: storage.out_of_order_window 2h0m0s is shorter than the agents' default queue.max_age 24h0m0s") {
		t.Fatalf("output %q", out.String())
	}
	err := run(context.Background(), []string{"check", "--config", "../../collector/config/testdata/invalid-listen.yml"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `invalid-listen.yml:1: listen: "9400" is not host:port`) {
		t.Fatalf("check invalid: %v", err)
	}
	if err := run(context.Background(), []string{"nope"}, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
}
