#!/usr/bin/env bash
# @meta
# name: three-releases
# tier: load
# description: Three releases of the chart install side by side in one namespace, all become ready, and uninstall cleanly
# chart: ../../charts/spark
# preset: connect
# tags: connect, releases, concurrency, script, preset-connect
# timeout: 8m
# estimated_time: 90s
# @endmeta
# Called as SCRIPT NAMESPACE RELEASE. The rig removes only RELEASE afterwards,
# so this script uninstalls the extra releases itself, also on failure.
set -euo pipefail
namespace="$1"
release="$2"

# Helm release names are at most 53 characters; keep room for the "-rN" suffix.
base="${release:0:49}"
base="${base%-}"
releases=("${base}-r1" "${base}-r2" "${base}-r3")

cleanup() {
    for name in "${releases[@]}"; do
        helm uninstall "$name" -n "$namespace" --wait --timeout 2m >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

# Small requests so that three releases fit next to other scenarios.
small=(--set connect.resources.requests.cpu=100m --set connect.resources.requests.memory=256Mi
       --set connect.resources.limits.cpu=200m --set connect.resources.limits.memory=512Mi)

pids=()
for name in "${releases[@]}"; do
    helm install "$name" "$CHART" -n "$namespace" -f "$PRESET_VALUES" "${small[@]}" \
        --wait --timeout 4m &
    pids+=("$!")
done
failed=0
for index in "${!pids[@]}"; do
    if ! wait "${pids[$index]}"; then
        echo "helm install ${releases[$index]} failed" >&2
        failed=1
    fi
done
[[ "$failed" == 0 ]] || exit 1

for name in "${releases[@]}"; do
    kubectl -n "$namespace" wait "deployment/${name}-connect" --for=condition=Available --timeout=2m
    # Captured first: with pipefail, grep -q closing the pipe early would fail helm.
    status_text="$(helm status "$name" -n "$namespace")"
    grep -q '^STATUS: deployed$' <<<"$status_text" \
        || { echo "release ${name}: status is not deployed" >&2; exit 1; }
done

count="$(helm list -n "$namespace" -q | grep -c "^${base}-r[123]$" || true)"
[[ "$count" == 3 ]] || { echo "expected 3 releases in ${namespace}, found ${count}" >&2; exit 1; }
echo "3 releases ready in ${namespace}: ${releases[*]}"

for name in "${releases[@]}"; do
    helm uninstall "$name" -n "$namespace" --wait --timeout 2m
done
left="$(kubectl -n "$namespace" get deployments -o name | wc -l)"
[[ "$left" == 0 ]] || { echo "${left} deployments left after uninstalling the 3 releases" >&2; exit 1; }
echo "3 releases uninstalled"
