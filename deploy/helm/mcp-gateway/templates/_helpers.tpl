{{/* The chart's name (63 characters at most: a DNS label). */}}
{{- define "mcp-gateway.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object names: <release>-mcp-gateway, or the release name when it already says it. */}}
{{- define "mcp-gateway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels the Deployment's pods are selected by (Service, PDB): never change them. */}}
{{- define "mcp-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mcp-gateway.labels" -}}
{{ include "mcp-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The Secret an env var is read from: the existing one named, else the chart's. */}}
{{- define "mcp-gateway.secretName" -}}
{{- .value.existingSecret | default (include "mcp-gateway.fullname" .root) -}}
{{- end -}}

{{/* MCPGW_RATE_LIMIT_REPLICAS: rateLimitReplicas, else the replica count. */}}
{{- define "mcp-gateway.rateLimitReplicas" -}}
{{- if .Values.rateLimitReplicas -}}
{{- .Values.rateLimitReplicas -}}
{{- else if .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.minReplicas -}}
{{- else -}}
{{- .Values.replicaCount -}}
{{- end -}}
{{- end -}}
