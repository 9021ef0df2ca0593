#!/usr/bin/env bash
# Namespace leases the way shell suites do them, for bench/measure_lifecycle.py.
#   lifecycle.sh WORKERS LEASES_PER_WORKER PREFIX MANIFEST
# WORKERS loops run in the background. Each one does LEASES_PER_WORKER leases:
# one `kubectl apply` of MANIFEST (namespace, ResourceQuota, LimitRange) with
# @NAMESPACE@ replaced, then `kubectl delete namespace --wait`.
# The script exits non-zero when any worker failed. kubectl and KUBECONFIG come
# from the environment.
set -euo pipefail

workers=$1
per_worker=$2
prefix=$3
manifest=$4

lease() {
    local namespace=$1
    sed "s/@NAMESPACE@/${namespace}/g" "$manifest" | kubectl apply -f - >/dev/null
    kubectl delete namespace "$namespace" --wait=true --timeout=120s >/dev/null
}

worker() {
    local index
    for index in $(seq 1 "$per_worker"); do
        lease "${prefix}-$1-${index}"
    done
}

pids=()
for number in $(seq 1 "$workers"); do
    worker "$number" &
    pids+=("$!")
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
exit "$status"
