#!/usr/bin/env bash
# @meta
# name: connect-port-script
# tier: smoke
# description: A script scenario installs the connect preset and reads the Service's gRPC port with kubectl
# chart: ../../charts/spark
# preset: connect
# tags: connect, script, preset-connect
# timeout: 5m
# depends_on: chart-lint
# estimated_time: 30s
# @endmeta
# Called as SCRIPT NAMESPACE RELEASE; CHART and PRESET_VALUES come from the rig.
set -euo pipefail
namespace="$1"
release="$2"

helm upgrade --install "$release" "$CHART" -n "$namespace" -f "$PRESET_VALUES" --wait --timeout 3m
kubectl -n "$namespace" wait "deployment/${release}-connect" --for=condition=Available --timeout=2m

port="$(kubectl -n "$namespace" get "service/${release}-connect" \
    -o jsonpath='{.spec.ports[?(@.name=="grpc")].port}')"
if [[ "$port" != "15002" ]]; then
    echo "service ${release}-connect: expected gRPC port 15002, got '${port}'" >&2
    exit 1
fi
echo "service ${release}-connect exposes gRPC on ${port}"
