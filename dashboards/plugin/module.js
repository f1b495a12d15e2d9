/*
 * Bulwark data source plugin, front end: a plain AMD module (no build step,
 * no npm), loaded by Grafana with @grafana/data, @grafana/runtime,
 * @grafana/ui and react as externals. The back end (gpx_bulwark, built from
 * cmd/bulwark-datasource) does the work; this file holds the configuration
 * page (collector URL, viewer token) and the query editor.
 */
define(['@grafana/data', '@grafana/runtime', '@grafana/ui', 'react'], function (data, runtime, ui, React) {
  'use strict';
  var h = React.createElement;
  var TYPES = [
    { label: 'Dependency graph', value: 'graph', description: 'services and their providers (node graph)' },
    { label: 'What-if', value: 'whatif', description: 'what a cut would lose' },
    { label: 'Incidents', value: 'incidents' },
    { label: 'Drift', value: 'drift' },
    { label: 'Drills', value: 'drills' }
  ];

  class DataSource extends runtime.DataSourceWithBackend {
    constructor(settings) { super(settings); }
    getDefaultQuery() { return { queryType: 'graph', limit: 500 }; }
    applyTemplateVariables(q, scoped) {
      var t = runtime.getTemplateSrv();
      return Object.assign({}, q, { target: t.replace(q.target || '', scoped), sector: t.replace(q.sector || '', scoped) });
    }
  }

  function list(v) { return (v || '').split(',').map(function (s) { return s.trim(); }).filter(Boolean); }

  function QueryEditor(props) {
    var q = props.query;
    function set(k, v) { var n = Object.assign({}, q); n[k] = v; props.onChange(n); props.onRunQuery(); }
    var fields = [h(ui.InlineField, { key: 'type', label: 'Query', labelWidth: 12 },
      h(ui.Select, { width: 24, options: TYPES, value: q.queryType || 'graph', onChange: function (o) { set('queryType', o.value); } }))];
    if (!q.queryType || q.queryType === 'graph' || q.queryType === 'drift') {
      fields.push(h(ui.InlineField, { key: 'target', label: 'Service', labelWidth: 12 },
        h(ui.Input, { width: 24, value: q.target || '', placeholder: 'all', onBlur: function (e) { set('target', e.currentTarget.value); } })));
    }
    if (!q.queryType || q.queryType === 'graph') {
      fields.push(h(ui.InlineField, { key: 'sector', label: 'Sector', labelWidth: 12 },
        h(ui.Input, { width: 24, value: q.sector || '', placeholder: 'all', onBlur: function (e) { set('sector', e.currentTarget.value); } })));
    }
    if (q.queryType === 'whatif') {
      ['countries', 'providers', 'asns', 'cidrs'].forEach(function (k) {
        fields.push(h(ui.InlineField, { key: k, label: k, labelWidth: 12, tooltip: 'comma-separated' },
          h(ui.Input, { width: 32, value: (q[k] || []).join(', '), onBlur: function (e) { set(k, list(e.currentTarget.value)); } })));
      });
    }
    return h(ui.Stack, { direction: 'row', wrap: 'wrap', gap: 1 }, fields);
  }

  function ConfigEditor(props) {
    var o = props.options;
    function change(patch) { props.onOptionsChange(Object.assign({}, o, patch)); }
    var secure = o.secureJsonFields || {};
    return h('div', null,
      h(ui.InlineField, { label: 'Collector URL', labelWidth: 16, tooltip: 'e.g. https://bulwark.cert.example:9400' },
        h(ui.Input, { width: 40, value: o.url || '', placeholder: 'http://127.0.0.1:9400', onChange: function (e) { change({ url: e.currentTarget.value }); } })),
      h(ui.InlineField, { label: 'Viewer token', labelWidth: 16, tooltip: 'a Bulwark user token with the viewer role; kept encrypted by Grafana' },
        h(ui.SecretInput, { width: 40, isConfigured: !!secure.token, value: (o.secureJsonData || {}).token || '',
          onReset: function () { change({ secureJsonFields: Object.assign({}, secure, { token: false }), secureJsonData: Object.assign({}, o.secureJsonData, { token: '' }) }); },
          onChange: function (e) { change({ secureJsonData: Object.assign({}, o.secureJsonData, { token: e.currentTarget.value }) }); } })));
  }

  return { plugin: new data.DataSourcePlugin(DataSource).setConfigEditor(ConfigEditor).setQueryEditor(QueryEditor) };
});
