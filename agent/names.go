package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Bounds of one resolution round: the list comes from the collector.
const (
	maxResolveNames   = 20000
	resolveWorkers    = 8
	resolveTimeout    = 5 * time.Second
	maxResolveListLen = 4 << 20
	maxResolveRound   = 10 * time.Minute
)

// resolveNames asks the collector, every interval, for the name servers
// it cannot attribute by name, resolves them through the agent's own
// resolver (what users see from this vantage point) and posts the
// addresses back. A failed round is logged and tried at the next.
func (a *Agent) resolveNames(ctx context.Context, every time.Duration) error {
	t := time.NewTimer(5 * time.Second) // soon after start, then every interval
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if n, err := a.resolveRound(ctx, min(every, maxResolveRound)); err != nil {
			a.opts.Logger.Warn("resolving names for the collector failed; will try again", "err", err)
		} else if n > 0 {
			a.opts.Logger.Info("resolved names for the collector", "names", n)
		}
		t.Reset(every)
	}
}

// resolveRound does one round, its lookups bounded by budget (the list
// comes from the collector), and returns how many names resolved.
func (a *Agent) resolveRound(ctx context.Context, budget time.Duration) (int, error) {
	c := a.config().Collector
	u := strings.TrimRight(a.baseURL, "/") + "/api/v1/agents/" + url.PathEscape(c.AgentID) + "/names"
	var list struct {
		Names []string `json:"names"`
	}
	if err := a.call(ctx, http.MethodGet, u, nil, &list); err != nil {
		return 0, err
	}
	names := list.Names[:min(len(list.Names), maxResolveNames)]
	lctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	found := map[string][]string{}
	var mu sync.Mutex
	work := make(chan string)
	var wg sync.WaitGroup
	for range resolveWorkers {
		wg.Go(func() {
			for name := range work {
				rctx, cancel := context.WithTimeout(lctx, resolveTimeout)
				addrs, err := a.env.LookupHost(rctx, name)
				cancel()
				if err == nil && len(addrs) > 0 {
					mu.Lock()
					found[name] = addrs
					mu.Unlock()
				}
			}
		})
	}
	for _, n := range names {
		select {
		case work <- n:
		case <-lctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if len(found) == 0 {
		return 0, ctx.Err()
	}
	body, _ := json.Marshal(map[string]any{"resolved": found})
	return len(found), a.call(ctx, http.MethodPost, u, body, nil)
}

// call sends one request to the collector with the agent's credentials.
func (a *Agent) call(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	req.Header.Set("Content-Type", "application/json")
	client := a.client
	if client == nil { // a plain-HTTP collector: no TLS settings to carry
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResolveListLen))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s names: HTTP %d: %.200s", method, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("names list: %w", err)
		}
	}
	return nil
}
