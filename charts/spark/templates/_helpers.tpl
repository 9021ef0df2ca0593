{{/*
Names and labels. The fullname is cut at 52 characters so that suffixes such
as "-connect" keep Service names within the 63-character DNS label limit.
*/}}
{{- define "spark.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "spark.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "spark.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; call with (dict "root" $ "component" "connect"). */}}
{{- define "spark.labels" -}}
helm.sh/chart: {{ include "spark.chart" .root }}
{{ include "spark.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: spark
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels; call with (dict "root" $ "component" "connect"). */}}
{{- define "spark.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spark.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end }}

{{- define "spark.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-driver" (include "spark.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "spark.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}

{{- define "spark.masterURL" -}}
{{- printf "spark://%s-master:%d" (include "spark.fullname" .) (int .Values.standalone.master.ports.rpc) }}
{{- end }}

{{/* Pod-level fields shared by every Spark pod; call with (dict "root" $ "component" $values). */}}
{{- define "spark.podCommon" -}}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Container fields shared by every Spark container: image, security, common env. */}}
{{- define "spark.containerCommon" -}}
image: {{ include "spark.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
{{- end }}

{{/* Environment of every Spark process: config folder, writable log and pid dirs. */}}
{{- define "spark.env" -}}
- name: SPARK_CONF_DIR
  value: /etc/spark/conf
- name: SPARK_LOG_DIR
  value: /tmp/spark-logs
- name: SPARK_PID_DIR
  value: /tmp
- name: SPARK_NO_DAEMONIZE
  value: "true"
- name: HOME
  value: /tmp
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}

{{/* Mounts of every Spark container; the root filesystem may be read-only. */}}
{{- define "spark.volumeMounts" -}}
- name: conf
  mountPath: /etc/spark/conf
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: work-dir
  mountPath: /opt/spark/work-dir
{{- end }}

{{- define "spark.volumes" -}}
- name: conf
  configMap:
    name: {{ include "spark.fullname" . }}-conf
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimit }}
- name: work-dir
  emptyDir:
    sizeLimit: {{ .Values.scratchSizeLimit }}
{{- end }}
