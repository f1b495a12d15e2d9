{{- define "bulwark.labels" -}}
app.kubernetes.io/part-of: bulwark
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bulwark.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "bulwark.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end }}

{{- define "bulwark.haReplicas" -}}
{{- $n := int .Values.ha.replicas }}
{{- if lt $n 2 }}
{{- fail "ha.replicas must be at least 2 (ha.enabled runs collectors active-active)" }}
{{- end }}
{{- $n }}
{{- end }}

{{- /* The collector's configuration keys the HA profile adds: the state on
PostgreSQL and, if set, the remote-write forwarding. */ -}}
{{- define "bulwark.haCollectorConfig" -}}
{{- $user := fromYaml .Values.collector.config }}
{{- if hasKey $user "state" }}
{{- fail "collector.config: leave state out with ha.enabled (the chart sets the postgres driver and its dsn_file)" }}
{{- end -}}
state:
  driver: postgres
  dsn_file: /etc/bulwark/state/dsn
{{- with .Values.ha.remoteWrite }}
{{- if .url }}
{{- if hasKey $user "storage" }}
{{- fail "collector.config has a storage section: with ha.remoteWrite.url set, leave storage to the chart or put remote_write in it yourself and leave ha.remoteWrite.url empty" }}
{{- end }}
storage:
  remote_write:
    - url: {{ .url }}
      name: {{ .name | default "victoriametrics" }}
      {{- if .bearerTokenSecret }}
      bearer_token_file: /etc/bulwark/remote-write/token
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- /* The collectors an agent pushes to: the Service, or with ha.enabled
each collector of the StatefulSet by its own address. */ -}}
{{- define "bulwark.agentCollectors" -}}
{{- if .Values.ha.enabled -}}
urls:
{{- range $i := until (int (include "bulwark.haReplicas" .)) }}
  - {url: "http://{{ $.Release.Name }}-collector-{{ $i }}.{{ $.Release.Name }}-collector-peers.{{ $.Release.Namespace }}.svc:9400", name: collector-{{ $i }}}
{{- end }}
{{- else -}}
url: http://{{ .Release.Name }}-collector:9400
{{- end }}
{{- end }}
