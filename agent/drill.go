package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/agent/probe"
	"github.com/bulwarkhq/bulwark/agent/pull"
	"github.com/bulwarkhq/bulwark/internal/cutset"
)

// drillFile keeps the cut in force across an agent restart; its expiry
// still holds.
const drillFile = "drill.json"

// drillState is the cut in force and the probe environment that applies it.
type drillState struct {
	cut *cutset.Cut
	env *probe.Env
}

// Drill returns the cut the agent enforces now, or nil. The agent's own
// clock decides: an expired cut is ignored whatever the collector says.
func (a *Agent) Drill() *cutset.Cut {
	d := a.drill.Load()
	if d == nil || !d.cut.Active(time.Now()) {
		return nil
	}
	return d.cut
}

func (a *Agent) drillEnv() (*cutset.Cut, *probe.Env) {
	d := a.drill.Load()
	if d == nil || !d.cut.Active(time.Now()) {
		return nil, nil
	}
	return d.cut, d.env
}

// setDrill puts c in force (nil ends the drill) and keeps it on disk.
func (a *Agent) setDrill(c *cutset.Cut) {
	old := a.drill.Load()
	switch {
	case c == nil && old == nil:
		return
	case c == nil:
		a.drill.Store(nil)
		a.opts.Logger.Info("drill ended: probing normally", "drill", old.cut.ID)
		if err := os.Remove(a.drillPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			a.opts.Logger.Warn("cannot remove the drill file", "err", err)
		}
		return
	case old != nil && old.cut.ID == c.ID && old.cut.Expires.Equal(c.Expires) && len(old.cut.Prefixes) == len(c.Prefixes) && len(old.cut.Names) == len(c.Names):
		return
	}
	a.drill.Store(&drillState{cut: c, env: a.env.WithCut(c)})
	a.opts.Logger.Info("drill cut in force: probing also as if it had happened", "drill", c.ID, "scenario", c.Scenario,
		"prefixes", len(c.Prefixes), "names", len(c.Names), "expires", c.Expires.Format(time.RFC3339))
	if b, err := json.Marshal(c); err == nil {
		if err := pull.WriteFileAtomic(a.drillPath(), b); err != nil {
			a.opts.Logger.Warn("cannot keep the drill on disk", "err", err)
		}
	}
}

func (a *Agent) drillPath() string { return filepath.Join(a.opts.Config.Queue.Dir, drillFile) }

// loadDrill takes up a drill kept on disk if it has not expired.
func (a *Agent) loadDrill() {
	f, err := os.Open(a.drillPath())
	if err != nil {
		return
	}
	defer f.Close()
	c, err := cutset.Decode(f)
	if err != nil {
		a.opts.Logger.Warn("ignoring the drill file", "err", err)
		return
	}
	if c.Expires.After(time.Now()) {
		a.setDrill(c)
	}
}

// fetchDrill asks the collector for the drill in force: a cut-set, or
// 204 No Content when there is none. With wait > 0 it is a long poll:
// the collector answers when the drill in force is not known (an id, ""
// for none), or after wait.
func (a *Agent) fetchDrill(ctx context.Context, wait time.Duration, known string) (*cutset.Cut, error) {
	c := a.config().Collector
	u := strings.TrimRight(a.baseURL, "/") + "/api/v1/agents/" + url.PathEscape(c.AgentID) + "/drill"
	if wait > 0 {
		u += "?" + url.Values{"wait": {wait.String()}, "known": {known}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	client := a.client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("drill: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil, nil
	case http.StatusOK:
		return cutset.Decode(resp.Body)
	}
	return nil, fmt.Errorf("drill: HTTP %d", resp.StatusCode)
}

// drillWait is how long one long poll for drills waits at the collector.
const drillWait = 15 * time.Second

// pollDrill long-polls the collector for drills: the answer comes as soon
// as a drill starts or ends, or after drillWait. After a failure, or an
// answer that came early with nothing new (a collector that does not
// hold the poll), it waits every before asking again. When the collector
// cannot be reached the cut in force stays until its own expiry.
func (a *Agent) pollDrill(ctx context.Context, every time.Duration) error {
	pause := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
		known := ""
		if d := a.drill.Load(); d != nil {
			known = d.cut.ID
		}
		start := time.Now()
		fctx, cancel := context.WithTimeout(ctx, drillWait+10*time.Second)
		c, err := a.fetchDrill(fctx, drillWait, known)
		cancel()
		pause = 0
		switch {
		case err != nil && ctx.Err() == nil:
			a.opts.Logger.Warn("cannot ask the collector for drills; a cut in force stays until it expires", "err", err)
			pause = every
		case err == nil:
			a.setDrill(c)
			if id := idOf(c); id == known && time.Since(start) < drillWait/2 {
				pause = every
			}
		}
	}
}

func idOf(c *cutset.Cut) string {
	if c == nil {
		return ""
	}
	return c.ID
}
