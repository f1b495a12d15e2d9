package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/internal/testenv"
)

type promResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
	Error string `json:"error"`
}

func instant(t *testing.T, base, q string) promResponse {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var pr promResponse
	if err := json.NewDecoder(resp.Body).Decode(&pr); err != nil {
		t.Fatal(err)
	}
	if pr.Status != "success" {
		t.Fatalf("query %s: %s", q, pr.Error)
	}
	return pr
}

// The whole pipeline in one process: the demo world, the collector and two
// agents. Every service reports from both vantage points through the query
// API, the home-only service is down from abroad only, and the console lists
// every service by sector.
func TestDemoEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- demo(ctx, demoOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Schedule: "@every 2s", DepsSchedule: "@every 2s",
			DriftAfter: -1, Logger: slog.New(slog.DiscardHandler), Ready: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	n := testenv.ServiceCount()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pr := instant(t, base, `count by (vantage) (count by (vantage, target) (probe_success))`)
		got := map[string]string{}
		for _, r := range pr.Data.Result {
			got[r.Metric["vantage"]] = r.Value[1].(string)
		}
		want := fmt.Sprint(n)
		if got["home"] == want && got["abroad"] == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s services per vantage = %v, want %d from home and abroad", got, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for vantage, want := range map[string]string{"home": "1", "abroad": "0"} {
		pr := instant(t, base, fmt.Sprintf(`probe_success{target="nuclear-safety",check="http",vantage=%q}`, vantage))
		if len(pr.Data.Result) != 1 || pr.Data.Result[0].Value[1] != want {
			t.Errorf("home-only service from %s: %+v, want %s", vantage, pr.Data.Result, want)
		}
	}
	pr := instant(t, base, `probe_success{target="grid-portal",check="http"}`)
	if len(pr.Data.Result) != 2 || pr.Data.Result[0].Metric["sector"] != "energy" || pr.Data.Result[0].Metric["check"] != "http" {
		t.Errorf("grid-portal series: %+v", pr.Data.Result)
	}

	// Dependencies are observed from both vantage points.
	deadline = time.Now().Add(30 * time.Second)
	for {
		pr := instant(t, base, `count by (vantage) (probe_dependency_info{target="gas-transport",layer="dns",name="ns1.cathaydns.test"})`)
		if len(pr.Data.Result) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dependency observations of gas-transport: %+v", pr.Data.Result)
		}
		time.Sleep(500 * time.Millisecond)
	}

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if c := strings.Count(string(page), "data-target="); c != n {
		t.Errorf("console lists %d services, want %d", c, n)
	}
	for _, s := range []string{`id="sector-energy"`, `id="sector-finance"`, `id="sector-government"`, `data-target="nuclear-safety" data-state="partial"`} {
		if !strings.Contains(string(page), s) {
			t.Errorf("console page lacks %s", s)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of cancel")
	}
}
