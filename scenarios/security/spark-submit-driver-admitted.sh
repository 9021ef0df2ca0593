#!/usr/bin/env bash
# @meta
# name: spark-submit-driver-admitted
# tier: security
# description: spark-submit (pyspark) in cluster mode creates a driver pod that runs as the chart's service account and is admitted under Pod Security restricted
# chart: ../../charts/spark
# preset: restricted
# tags: spark-submit, driver, rbac, admission, pod-security, preset-restricted
# timeout: 6m
# estimated_time: 60s
# @endmeta
#
# Needs java (17 or later) and spark-submit from the pyspark package
# (`pip install -e '.[spark]'`). Without them the scenario fails at once with a
# message that names what to install, because the rig has no skip exit code for
# scripts.
#
# spark-submit runs on this host and talks to the API server named in
# KUBECONFIG. Its Kubernetes client (fabric8) reads KUBECONFIG too, but the
# server, CA and client credentials are passed explicitly through
# spark.kubernetes.authenticate.submission.* so that embedded (*-data)
# kubeconfig entries work the same as file paths.
set -euo pipefail
namespace="$1"
release="$2"
image="apache/spark:4.0.1"
examples_jar="local:///opt/spark/examples/jars/spark-examples_2.13-4.0.1.jar"
service_account="${release}-driver"
driver_pod="${release}-pi-driver"

fail() { echo "spark-submit-driver-admitted: $*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------
if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
    java_bin="${JAVA_HOME}/bin/java"
else
    java_bin="$(command -v java || true)"
fi
[[ -n "$java_bin" ]] || fail "java not found on PATH or in JAVA_HOME; install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"

spark_submit=""
if [[ -n "${SPARK_HOME:-}" && -x "${SPARK_HOME}/bin/spark-submit" ]]; then
    spark_submit="${SPARK_HOME}/bin/spark-submit"
fi
if [[ -z "$spark_submit" ]]; then
    # The rig's own virtualenv first, then whatever python3 is on PATH.
    for python in "$(pwd)/../../.venv/bin/python" "$(command -v python3 || true)"; do
        [[ -x "$python" ]] || continue
        pyspark_dir="$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null || true)"
        if [[ -n "$pyspark_dir" && -x "${pyspark_dir}/bin/spark-submit" ]]; then
            spark_submit="${pyspark_dir}/bin/spark-submit"
            break
        fi
    done
fi
[[ -n "$spark_submit" ]] || fail "spark-submit not found: no SPARK_HOME and no pyspark package; run: .venv/bin/pip install -e '.[spark]'"
echo "using ${spark_submit} with ${java_bin}"

# --- the chart: service account, RBAC, restricted namespace -------------------
kubectl label namespace "$namespace" --overwrite \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
helm upgrade --install "$release" "$CHART" -n "$namespace" -f "$PRESET_VALUES" \
    --set connect.enabled=false --set history.enabled=false --wait --timeout 3m

# --- credentials from KUBECONFIG --------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/spark-submit-XXXXXX")"
trap 'rm -rf "$work"' EXIT

kube_field() {
    kubectl config view --raw --minify -o "jsonpath={$1}"
}
server="$(kube_field '.clusters[0].cluster.server')"
[[ -n "$server" ]] || fail "KUBECONFIG=${KUBECONFIG:-} names no API server for the current context"

# Write a credential to a file: the path entry as is, else the decoded *-data entry.
credential_file() {
    local path_field="$1" data_field="$2" target="$3" path data
    path="$(kube_field "$path_field")"
    if [[ -n "$path" ]]; then
        echo "$path"
        return
    fi
    data="$(kube_field "$data_field")"
    if [[ -n "$data" ]]; then
        printf '%s' "$data" | base64 -d > "$target"
        chmod 600 "$target"
        echo "$target"
    fi
}
auth_confs=()
ca_file="$(credential_file '.clusters[0].cluster.certificate-authority' \
    '.clusters[0].cluster.certificate-authority-data' "$work/ca.crt")"
[[ -n "$ca_file" ]] && auth_confs+=(--conf "spark.kubernetes.authenticate.submission.caCertFile=${ca_file}")
cert_file="$(credential_file '.users[0].user.client-certificate' \
    '.users[0].user.client-certificate-data' "$work/client.crt")"
key_file="$(credential_file '.users[0].user.client-key' \
    '.users[0].user.client-key-data' "$work/client.key")"
# fabric8 7.1 (Spark 4.0's Kubernetes client) parses the client key as RSA
# unless told otherwise, regardless of the PEM header, and the local cluster's
# client key is EC. Its algorithm goes to fabric8 through
# KUBERNETES_CERTS_CLIENT_KEY_ALGO, read from the traditional PEM header.
key_algo=""
if [[ -n "$key_file" ]]; then
    header="$(head -n 1 "$key_file")"
    if [[ "$header" == *"BEGIN PRIVATE KEY"* ]]; then
        command -v openssl >/dev/null \
            || fail "openssl not found; it is needed to read the algorithm of the PKCS#8 client key in KUBECONFIG"
        header="$(openssl pkey -in "$key_file" -traditional | head -n 1)"
    fi
    case "$header" in
        *"BEGIN EC PRIVATE KEY"*) key_algo=EC ;;
        *"BEGIN RSA PRIVATE KEY"*) key_algo=RSA ;;
        *) fail "client key in KUBECONFIG is neither EC nor RSA (header: ${header}); spark-submit cannot use it" ;;
    esac
fi
if [[ -n "$cert_file" && -n "$key_file" ]]; then
    auth_confs+=(--conf "spark.kubernetes.authenticate.submission.clientCertFile=${cert_file}"
                 --conf "spark.kubernetes.authenticate.submission.clientKeyFile=${key_file}")
fi
token="$(kube_field '.users[0].user.token')"
if [[ -n "$token" ]]; then
    printf '%s' "$token" > "$work/token"
    chmod 600 "$work/token"
    auth_confs+=(--conf "spark.kubernetes.authenticate.submission.oauthTokenFile=${work}/token")
fi

# The driver and executors get a restricted-compliant security context from
# this pod template; without it the namespace rejects the driver pod.
cat > "$work/pod-template.yaml" <<'TEMPLATE'
apiVersion: v1
kind: Pod
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 185
    runAsGroup: 185
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: spark
      securityContext:
        allowPrivilegeEscalation: false
        capabilities:
          drop: [ALL]
TEMPLATE

# --- submit -------------------------------------------------------------------
export JAVA_HOME="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$java_bin")")")}"
export SPARK_LOCAL_IP=127.0.0.1
# Credentials come from the confs above only: fabric8 skips KUBECONFIG and
# the in-cluster service account.
KUBERNETES_AUTH_TRYKUBECONFIG=false KUBERNETES_AUTH_TRYSERVICEACCOUNT=false \
KUBERNETES_CERTS_CLIENT_KEY_ALGO="${key_algo:-RSA}" \
"$spark_submit" \
    --master "k8s://${server}" \
    --deploy-mode cluster \
    --name "${release}-pi" \
    --class org.apache.spark.examples.SparkPi \
    --conf spark.kubernetes.namespace="$namespace" \
    --conf spark.kubernetes.authenticate.driver.serviceAccountName="$service_account" \
    --conf spark.kubernetes.container.image="$image" \
    --conf spark.kubernetes.driver.pod.name="$driver_pod" \
    --conf spark.kubernetes.driver.podTemplateFile="$work/pod-template.yaml" \
    --conf spark.kubernetes.executor.podTemplateFile="$work/pod-template.yaml" \
    --conf spark.kubernetes.submission.waitAppCompletion=false \
    --conf spark.driver.memory=512m \
    --conf spark.kubernetes.driver.request.cores=100m \
    --conf spark.kubernetes.driver.limit.cores=500m \
    --conf spark.executor.instances=1 \
    "${auth_confs[@]}" \
    "$examples_jar" 10

# --- checks -------------------------------------------------------------------
kubectl -n "$namespace" get "pod/${driver_pod}" >/dev/null \
    || fail "driver pod ${driver_pod} not found in ${namespace} after spark-submit"
actual_sa="$(kubectl -n "$namespace" get "pod/${driver_pod}" -o jsonpath='{.spec.serviceAccountName}')"
[[ "$actual_sa" == "$service_account" ]] \
    || fail "driver pod ${driver_pod}: expected service account ${service_account}, got '${actual_sa}'"
enforce="$(kubectl get namespace "$namespace" -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}')"
[[ "$enforce" == "restricted" ]] \
    || fail "namespace ${namespace}: expected pod-security enforce=restricted, got '${enforce}'"
kubectl -n "$namespace" wait "pod/${driver_pod}" --for=condition=PodScheduled --timeout=2m
echo "driver pod ${driver_pod} admitted under restricted, scheduled, service account ${actual_sa}"
