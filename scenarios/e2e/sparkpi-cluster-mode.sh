#!/usr/bin/env bash
# @meta
# name: sparkpi-cluster-mode
# tier: e2e
# description: SparkPi runs in cluster mode as the chart's driver service account and its driver log reports "Pi is roughly"
# chart: ../../charts/spark
# preset: kubernetes
# tags: sparkpi, spark-submit, driver, executor, rbac, preset-kubernetes
# timeout: 15m
# requires: containers
# estimated_time: 5m
# @endmeta
# spark-submit runs inside the cluster, in a pod that uses the chart's driver
# service account, so the submission needs no credentials from this host and
# exercises the same RBAC that the driver uses to start executors.
set -euo pipefail
namespace="$1"
release="$2"
image="apache/spark:4.0.1"
service_account="${release}-driver"
driver_pod="${release}-pi-driver"
submitter="${release}-pi-submit"

helm upgrade --install "$release" "$CHART" -n "$namespace" -f "$PRESET_VALUES" \
    --set connect.enabled=false --wait --timeout 5m

kubectl -n "$namespace" apply -f - <<MANIFEST
apiVersion: v1
kind: Pod
metadata:
  name: ${submitter}
  labels:
    app.kubernetes.io/instance: ${release}
    app.kubernetes.io/component: submitter
spec:
  serviceAccountName: ${service_account}
  restartPolicy: Never
  securityContext:
    runAsNonRoot: true
    runAsUser: 185
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: submit
      image: ${image}
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL]}
      env:
        - {name: HOME, value: /tmp}
      resources:
        requests: {cpu: 200m, memory: 512Mi}
        limits: {cpu: "1", memory: 1Gi}
      command:
        - /opt/spark/bin/spark-submit
        - --master
        - k8s://https://kubernetes.default.svc:443
        - --deploy-mode
        - cluster
        - --name
        - ${release}-pi
        - --class
        - org.apache.spark.examples.SparkPi
        - --conf
        - spark.kubernetes.namespace=${namespace}
        - --conf
        - spark.kubernetes.authenticate.driver.serviceAccountName=${service_account}
        - --conf
        - spark.kubernetes.container.image=${image}
        - --conf
        - spark.kubernetes.driver.pod.name=${driver_pod}
        - --conf
        - spark.kubernetes.submission.waitAppCompletion=true
        - --conf
        - spark.executor.instances=1
        - --conf
        - spark.driver.memory=512m
        - --conf
        - spark.executor.memory=512m
        - --conf
        - spark.kubernetes.driver.request.cores=200m
        - --conf
        - spark.kubernetes.executor.request.cores=200m
        - --conf
        - spark.jars.ivy=/tmp/.ivy2
        - local:///opt/spark/examples/jars/spark-examples_2.13-4.0.1.jar
        - "100"
MANIFEST

echo "waiting for the submitter and the driver to finish"
kubectl -n "$namespace" wait "pod/${submitter}" --for=jsonpath='{.status.phase}'=Succeeded --timeout=10m || {
    kubectl -n "$namespace" logs "pod/${submitter}" --tail=100 >&2 || true
    kubectl -n "$namespace" get pods -o wide >&2 || true
    exit 1
}
kubectl -n "$namespace" wait "pod/${driver_pod}" --for=jsonpath='{.status.phase}'=Succeeded --timeout=2m

actual_sa="$(kubectl -n "$namespace" get "pod/${driver_pod}" -o jsonpath='{.spec.serviceAccountName}')"
[[ "$actual_sa" == "$service_account" ]] || {
    echo "driver ${driver_pod}: expected service account ${service_account}, got '${actual_sa}'" >&2
    exit 1
}
log="$(kubectl -n "$namespace" logs "pod/${driver_pod}")"
if ! grep -q "Pi is roughly" <<<"$log"; then
    echo "driver ${driver_pod}: 'Pi is roughly' not in its log; last lines:" >&2
    tail -n 40 <<<"$log" >&2
    exit 1
fi
grep "Pi is roughly" <<<"$log"
