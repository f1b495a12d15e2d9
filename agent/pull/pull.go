// Package pull fetches the agent's target list from the collector
// (GET /api/v1/agents/{id}/targets) with ETag polling, and keeps the last
// good list on disk so the agent goes on probing when the collector is away.
package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bulwarkhq/bulwark/internal/target"
)

// Options configure a Puller.
type Options struct {
	// BaseURL is the collector's base URL.
	BaseURL string
	AgentID string
	Token   string
	Client  *http.Client
	// CacheFile keeps the last good list (JSON).
	CacheFile string
	// Validate checks a list before it is used (optional).
	Validate func([]target.Target) error
	Logger   *slog.Logger
}

// Puller fetches target lists.
type Puller struct {
	opts Options
	etag string
}

// New returns a Puller.
func New(opts Options) (*Puller, error) {
	if opts.BaseURL == "" || opts.AgentID == "" {
		return nil, errors.New("pull: BaseURL and AgentID are required")
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Puller{opts: opts}, nil
}

type list struct {
	Targets []target.Target `json:"targets"`
}

// ErrNotModified means the collector's list has not changed.
var ErrNotModified = errors.New("target list not modified")

// Fetch asks the collector for the list; ErrNotModified when it has not
// changed since the last successful fetch. A good list is cached.
func (p *Puller) Fetch(ctx context.Context) ([]target.Target, error) {
	u := strings.TrimRight(p.opts.BaseURL, "/") + "/api/v1/agents/" + url.PathEscape(p.opts.AgentID) + "/targets"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("pull targets: %w", err)
	}
	if p.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.opts.Token)
	}
	if p.etag != "" {
		req.Header.Set("If-None-Match", p.etag)
	}
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pull targets: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil, ErrNotModified
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("pull targets: read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pull targets: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	ts, err := p.decode(body)
	if err != nil {
		return nil, fmt.Errorf("pull targets from %s: %w", u, err)
	}
	p.etag = resp.Header.Get("ETag")
	if p.opts.CacheFile != "" {
		if err := WriteFileAtomic(p.opts.CacheFile, body); err != nil {
			p.opts.Logger.Warn("cannot cache the target list", "file", p.opts.CacheFile, "err", err)
		}
	}
	return ts, nil
}

func (p *Puller) decode(body []byte) ([]target.Target, error) {
	var l list
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if p.opts.Validate != nil {
		if err := p.opts.Validate(l.Targets); err != nil {
			return nil, err
		}
	}
	return l.Targets, nil
}

// Cached returns the last good list kept on disk.
func (p *Puller) Cached() ([]target.Target, error) {
	if p.opts.CacheFile == "" {
		return nil, errors.New("pull: no cache file")
	}
	b, err := os.ReadFile(p.opts.CacheFile)
	if err != nil {
		return nil, fmt.Errorf("cached targets: %w", err)
	}
	ts, err := p.decode(b)
	if err != nil {
		return nil, fmt.Errorf("cached targets %s: %w", p.opts.CacheFile, err)
	}
	return ts, nil
}

// Run polls every interval and calls apply with each new list; fetch
// errors are logged and the last list stays in force.
func (p *Puller) Run(ctx context.Context, interval time.Duration, apply func([]target.Target)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ts, err := p.Fetch(ctx)
		switch {
		case errors.Is(err, ErrNotModified):
		case err != nil:
			if ctx.Err() == nil {
				p.opts.Logger.Warn("keeping the last target list", "err", err)
			}
		default:
			p.opts.Logger.Info("new target list from the collector", "targets", len(ts))
			apply(ts)
		}
	}
}

// WriteFileAtomic writes b to path through a temporary file and a rename,
// so a reader (or the next start) sees the old file or the new, never half.
func WriteFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
