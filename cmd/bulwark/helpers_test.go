package main

import (
	"context"
	"net"
	"testing"

	"github.com/bulwarkhq/bulwark/collector"
	"github.com/bulwarkhq/bulwark/collector/auth"
	"github.com/bulwarkhq/bulwark/collector/collectorconfig"
)

// liveCollector starts a collector from cfg on loopback with users, given
// as token -> user; it stops when the test ends. It returns the base URL.
func liveCollector(t *testing.T, cfg collectorconfig.Config, users map[string]auth.User) string {
	t.Helper()
	table := auth.NewUsers()
	for tok, u := range users {
		table.Add(tok, false, u)
	}
	app, err := collector.New(collector.Options{Config: &cfg, Agents: auth.NewAgents(), Users: table})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Stop(context.Background()) })
	return "http://" + app.Addr()
}
