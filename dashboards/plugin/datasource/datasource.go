// Package datasource is the backend of Bulwark's Grafana data source
// plugin (grafana-plugin-sdk-go): what is not a plain series. Query
// types: the dependency graph as node-graph frames (services and the
// providers they depend on, states as colours, jurisdictions as
// details), a what-if answer, incidents, drift events and drills; a
// health check; resource calls for the query editor's pick lists. It
// reads the collector's JSON API with a viewer token kept in the data
// source's secure JSON data, and imports nothing of the collector: the
// plugin binary stays small.
package datasource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
)

// ID is the plugin's id (plugin.json).
const ID = "bulwarkhq-bulwark-datasource"

// maxAnswer bounds what is read of one collector answer.
const maxAnswer = 256 << 20

// Settings are the data source's settings: the collector's URL (the data
// source URL) and, in secure JSON data, "token".
type Settings struct {
	URL   string
	Token string
}

// Instance is one configured data source.
type Instance struct {
	settings Settings
	client   *http.Client
}

var (
	_ backend.QueryDataHandler      = (*Instance)(nil)
	_ backend.CheckHealthHandler    = (*Instance)(nil)
	_ backend.CallResourceHandler   = (*Instance)(nil)
	_ instancemgmt.InstanceDisposer = (*Instance)(nil)
)

// New is the instance factory Grafana calls for each data source.
func New(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	u := s.URL
	var j struct {
		URL string `json:"url"`
	}
	if len(s.JSONData) > 0 && json.Unmarshal(s.JSONData, &j) == nil && u == "" {
		u = j.URL
	}
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("bulwark: the data source URL %q is not the collector's http or https URL", u)
	}
	return &Instance{settings: Settings{URL: strings.TrimRight(u, "/"), Token: s.DecryptedSecureJSONData["token"]},
		client: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Dispose releases the instance's connections.
func (in *Instance) Dispose() { in.client.CloseIdleConnections() }

// errRefused is a 401 or 403 from the collector.
var errRefused = errors.New("the collector refused the token (it needs a viewer's)")

// get reads path from the collector into out; an API envelope's data is
// unwrapped when envelope is set.
func (in *Instance) get(ctx context.Context, path string, envelope bool, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.settings.URL+path, nil)
	if err != nil {
		return err
	}
	if in.settings.Token != "" {
		req.Header.Set("Authorization", "Bearer "+in.settings.Token)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return fmt.Errorf("bulwark: %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("bulwark: %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return errRefused
	case resp.StatusCode != http.StatusOK:
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		return fmt.Errorf("bulwark: %s: HTTP %d: %s", path, resp.StatusCode, e.Error)
	}
	if !envelope {
		return json.Unmarshal(b, out)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("bulwark: %s: %w", path, err)
	}
	return json.Unmarshal(env.Data, out)
}

// CheckHealth says whether the collector answers and takes the token.
func (in *Instance) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	var bi struct {
		Application, Version, Revision string
	}
	if err := in.get(ctx, "/api/v1/status/buildinfo", true, &bi); err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: err.Error()}, nil
	}
	if bi.Application != "bulwark" {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError,
			Message: fmt.Sprintf("%s answers, but it is not a Bulwark collector (a Prometheus %s?)", in.settings.URL, bi.Version)}, nil
	}
	var deps []service
	if err := in.get(ctx, graphPath, true, &deps); err != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: err.Error()}, nil
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk,
		Message: fmt.Sprintf("Bulwark %s: %d services with dependency graphs", strings.TrimPrefix(bi.Revision, "bulwark-"), len(deps))}, nil
}

// CallResource serves the query editor's pick lists: GET targets,
// sectors, providers, countries (from the dependency graphs).
func (in *Instance) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	send := func(code int, v any) error {
		b, _ := json.Marshal(v)
		return sender.Send(&backend.CallResourceResponse{Status: code, Headers: map[string][]string{"Content-Type": {"application/json"}}, Body: b})
	}
	kind := strings.Trim(req.Path, "/")
	if req.Method != http.MethodGet || !map[string]bool{"targets": true, "sectors": true, "providers": true, "countries": true}[kind] {
		return send(http.StatusNotFound, map[string]string{"error": "resources: GET targets, sectors, providers or countries"})
	}
	var deps []service
	if err := in.get(ctx, graphPath, true, &deps); err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, errRefused) {
			code = http.StatusForbidden
		}
		return send(code, map[string]string{"error": err.Error()})
	}
	return send(http.StatusOK, pickList(deps, kind))
}
