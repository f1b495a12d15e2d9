// Package plugin holds the files Grafana loads of Bulwark's data source
// plugin (plugin.json, module.js, img/); the back end is built from
// cmd/bulwark-datasource and packed by ./pack.
package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	ds "github.com/bulwarkhq/bulwark/dashboards/plugin/datasource"
	"github.com/bulwarkhq/bulwark/internal/testenv/testbin"
)

// TestPluginJSON: the manifest names the back end's id and executable.
func TestPluginJSON(t *testing.T) {
	b, err := os.ReadFile("plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Type, Name, ID, Executable string
		Backend                    bool
		Info                       struct{ Logos struct{ Small, Large string } }
		Dependencies               struct{ GrafanaDependency string }
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "datasource" || p.ID != ds.ID || !p.Backend || p.Executable != "gpx_bulwark" || p.Dependencies.GrafanaDependency == "" {
		t.Errorf("plugin.json: %+v", p)
	}
	for _, logo := range []string{p.Info.Logos.Small, p.Info.Logos.Large} {
		if _, err := os.Stat(logo); err != nil {
			t.Errorf("logo: %v", err)
		}
	}
}

// stubs stand in for Grafana's externals (@grafana/data, @grafana/runtime,
// @grafana/ui, react) so the module runs in a plain page: components
// render to a tree of {type, props, kids}.
const stubs = `<script>
window.results = null;
window.define = function (deps, factory) {
  var React = { createElement: function (type, props) {
    return { type: typeof type === 'string' ? type : type.displayName, props: props || {}, kids: [].slice.call(arguments, 2) }; } };
  var ui = new Proxy({}, { get: function (_, name) { var f = function () {}; f.displayName = name; return f; } });
  function DataSourcePlugin(ds) { this.ds = ds; }
  DataSourcePlugin.prototype.setConfigEditor = function (c) { this.config = c; return this; };
  DataSourcePlugin.prototype.setQueryEditor = function (q) { this.query = q; return this; };
  var runtime = { DataSourceWithBackend: function (s) { this.settings = s; },
    getTemplateSrv: function () { return { replace: function (s) { return s.replace('$service', 'tax-office'); } }; } };
  var mod = factory({ DataSourcePlugin: DataSourcePlugin }, runtime, ui, React);
  function count(node, type) {
    if (!node || typeof node !== 'object') return 0;
    var n = node.type === type ? 1 : 0;
    (node.kids || []).forEach(function (k) { (Array.isArray(k) ? k : [k]).forEach(function (c) { n += count(c, type); }); });
    return n;
  }
  var p = mod.plugin, noop = function () {};
  var d = new p.ds({ uid: 'bulwark' });
  window.results = {
    deps: deps,
    defaultType: d.getDefaultQuery().queryType,
    templated: d.applyTemplateVariables({ target: '$service' }, {}).target,
    graphFields: count(p.query({ query: { queryType: 'graph' }, onChange: noop, onRunQuery: noop }), 'InlineField'),
    whatifFields: count(p.query({ query: { queryType: 'whatif', providers: ['cathaydns'] }, onChange: noop, onRunQuery: noop }), 'InlineField'),
    configFields: count(p.config({ options: { url: 'http://127.0.0.1:9400', secureJsonFields: { token: true } }, onOptionsChange: noop }), 'InlineField')
  };
};
</script>`

// TestModuleInChromium loads module.js, as Grafana's loader would, in
// headless Chromium with stand-ins for Grafana's externals: it defines
// an AMD module with those four dependencies, returns a data source
// plugin whose editors render their fields, and templating applies.
func TestModuleInChromium(t *testing.T) {
	chromium := testbin.Need(t, "chromium", "chromium")
	js, err := os.ReadFile("module.js")
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "module.html")
	os.WriteFile(page, []byte("<!doctype html><html><body>"+stubs+"<script>"+string(js)+"</script></body></html>"), 0o600)
	actx, cancel := chromedp.NewExecAllocator(t.Context(), chromedp.ExecPath(chromium), chromedp.UserDataDir(t.TempDir()), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page)); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Deps                                    []string
		DefaultType, Templated                  string
		GraphFields, WhatifFields, ConfigFields int
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.results)`))
		if err == nil && raw != "null" {
			json.Unmarshal([]byte(raw), &res)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("module.js did not run: %v %s", err, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Join(res.Deps, ",") != "@grafana/data,@grafana/runtime,@grafana/ui,react" || res.DefaultType != "graph" || res.Templated != "tax-office" ||
		res.GraphFields != 3 || res.WhatifFields != 5 || res.ConfigFields != 2 {
		t.Errorf("module: %+v", res)
	}
}
