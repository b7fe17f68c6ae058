{{/* The release's resource name: <release>-mpsv-idp, or the release name if it already says mpsv-idp. */}}
{{- define "mpsv-idp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mpsv-idp.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mpsv-idp.labels" -}}
{{ include "mpsv-idp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mpsv-idp.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret the chart creates for whatever the operator did not bring in a Secret of their own. */}}
{{- define "mpsv-idp.secretName" -}}
{{ include "mpsv-idp.fullname" . }}
{{- end -}}

{{- define "mpsv-idp.databaseSecret" -}}
{{ .Values.database.existingSecret | default (include "mpsv-idp.secretName" .) }}
{{- end -}}

{{- define "mpsv-idp.kekSecret" -}}
{{ .Values.kek.existingSecret | default (include "mpsv-idp.secretName" .) }}
{{- end -}}

{{/* Whether the chart must create its Secret (a database URL or a KEK not in an existing Secret). */}}
{{- define "mpsv-idp.createSecret" -}}
{{- if or (not .Values.database.existingSecret) (not .Values.kek.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/* The database URL, for the nodes and the migration Job. */}}
{{- define "mpsv-idp.databaseEnv" -}}
- name: MPSV_IDP_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "mpsv-idp.databaseSecret" . }}
      key: {{ if .Values.database.existingSecret }}{{ .Values.database.urlKey }}{{ else }}database-url{{ end }}
- name: MPSV_IDP_DB_ACQUIRE_TIMEOUT
  value: {{ .Values.database.acquireTimeout | quote }}
{{- end -}}

{{- define "mpsv-idp.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
