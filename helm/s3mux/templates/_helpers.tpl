{{- define "s3mux.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "s3mux.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "s3mux.selectorLabels" -}}
app.kubernetes.io/name: {{ include "s3mux.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "s3mux.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "s3mux.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "s3mux.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "s3mux.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the root credentials. */}}
{{- define "s3mux.authSecret" -}}
{{- default (printf "%s-root" (include "s3mux.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "s3mux.hasTable" -}}
{{- if or .Values.routing.existingConfigMap (gt (len .Values.routing.table) 0) -}}true{{- end -}}
{{- end -}}

{{/* More than one replica on a volume only one node can mount would split the fs backend's data. */}}
{{- define "s3mux.checkSharedVolume" -}}
{{- $many := or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled -}}
{{- if and $many .Values.persistence.enabled (not (has "ReadWriteMany" .Values.persistence.accessModes)) -}}
{{- fail "the fs backend's volume (/data) with more than one replica needs persistence.accessModes [ReadWriteMany] (a volume every replica mounts), or persistence.enabled=false when the routing table's backends are all remote stores" -}}
{{- end -}}
{{- end -}}
