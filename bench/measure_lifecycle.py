"""Namespace lifecycle on the local cluster: leases per second at several parallelisms.

One lease is what a scenario holds while it runs: a namespace with sparkrig's
labels, a ResourceQuota and a LimitRange, then its deletion, waited for until
the namespace is gone (the namespace controller has removed its contents).
Each level runs `leases` leases spread over `parallelism` workers, timed from
the first create to the last namespace gone:

- sparkrig: `sparkrig.kube.lease` in `parallelism` threads;
- kubectl: `bench/lifecycle.sh`, `parallelism` background shell loops, each
  lease one `kubectl apply` of the three objects and one
  `kubectl delete namespace --wait`.

The cluster is the local one of `$SPARKRIG_STATE_DIR` (the benchmark sets it
to /tmp/sparkrig-state-bench when unset). In quick mode the measure runs only
when that cluster is already up. In full mode it starts the cluster when it is
down, and then stops and wipes it afterwards. Namespaces that a failed run leaves behind carry
the label `sparkrig/run-id=bench-<id>-s` (sparkrig) or `bench-<id>-k` (kubectl)
and are deleted at the end.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.peers import BenchToolError, run_timed
from bench.schedule import Summary, ratio, summarize
from bench.table import Row

if TYPE_CHECKING:
    from sparkrig.cluster.base import ClusterInfo

__all__ = ["measure_lifecycle", "lease_manifest", "leases_for_level", "DEFAULT_STATE_DIR"]

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = "/tmp/sparkrig-state-bench"
SCRIPT = Path(__file__).resolve().parent / "lifecycle.sh"

# Budget of the namespace each lease creates, as a scenario's `resources` would set it.
QUOTA_CPU = "2"
QUOTA_CPU_MILLIS = 2000
QUOTA_MEMORY = "4Gi"
QUOTA_MEMORY_BYTES = 4 * 1024**3
QUOTA_PODS = "10"
# The LimitRange's default container requests: what `sparkrig.kube.lease` derives
# for this quota (the smaller of 100m / 128Mi and the quota divided by the pods).
DEFAULT_CPU_REQUEST = "100m"
DEFAULT_MEMORY_REQUEST = "128Mi"

# Seconds one level may take per lease and worker round before it counts as hung.
SECONDS_PER_ROUND = 60.0


@dataclass(frozen=True)
class ClusterHandle:
    """The cluster to measure on, and whether this benchmark started it."""

    info: ClusterInfo
    started_here: bool


def leases_for_level(leases: int, parallelism: int) -> tuple[int, int]:
    """Return (leases per worker, total leases) so every worker does the same number.

    The total is `leases` rounded up to a multiple of `parallelism`, and at least
    one lease per worker.
    """
    if leases < 1 or parallelism < 1:
        raise ValueError(f"leases and parallelism must be at least 1, got {leases}, {parallelism}")
    per_worker = -(-leases // parallelism)
    return per_worker, per_worker * parallelism


def lease_manifest(run_id: str, namespace: str = "@NAMESPACE@") -> str:
    """Return the Namespace, ResourceQuota and LimitRange of one lease as YAML."""
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {namespace}
  labels:
    app.kubernetes.io/managed-by: sparkrig
    sparkrig/run-id: {run_id}
    sparkrig/scenario: bench-lifecycle
    sparkrig/tier: smoke
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: sparkrig-quota
  namespace: {namespace}
spec:
  hard:
    requests.cpu: "{QUOTA_CPU}"
    requests.memory: {QUOTA_MEMORY}
    pods: "{QUOTA_PODS}"
---
apiVersion: v1
kind: LimitRange
metadata:
  name: sparkrig-defaults
  namespace: {namespace}
spec:
  limits:
    - type: Container
      defaultRequest: {{cpu: {DEFAULT_CPU_REQUEST}, memory: {DEFAULT_MEMORY_REQUEST}}}
"""


def connect_cluster(require_running: bool) -> tuple[ClusterHandle | None, str | None]:
    """Return the local cluster, starting it unless `require_running`, or a reason to skip."""
    os.environ.setdefault("SPARKRIG_STATE_DIR", DEFAULT_STATE_DIR)
    state_dir = os.environ["SPARKRIG_STATE_DIR"]
    try:
        from sparkrig.cluster import get_provider
        from sparkrig.cluster.local import LocalCluster
        from sparkrig.errors import SparkrigError
    except ImportError as exc:
        return None, f"the local cluster provider is not available ({exc})"

    was_running = LocalCluster().is_running()
    if require_running and not was_running:
        return None, (
            f"no local cluster is running in {state_dir} (quick mode starts none; "
            "run `sparkrig cluster up` with that SPARKRIG_STATE_DIR first)"
        )
    try:
        info: ClusterInfo = get_provider("local").connect()
    except SparkrigError as exc:
        return None, f"the local cluster did not start: {str(exc).splitlines()[0]}"
    return ClusterHandle(info, started_here=not was_running), None


def stop_cluster(handle: ClusterHandle) -> None:
    """Stop and wipe the local cluster when this benchmark started it."""
    if not handle.started_here:
        return
    from sparkrig.cluster.local import LocalCluster

    LocalCluster().down()


def _kubectl_env(info: ClusterInfo, work: Path) -> dict[str, str]:
    env = {**os.environ, **info.env(), "KUBECACHEDIR": str(work / "kube-cache")}
    if info.tools_path is not None:
        env["PATH"] = f"{info.tools_path}{os.pathsep}{env.get('PATH', '')}"
    return env


def time_kubectl_level(
    info: ClusterInfo, work: Path, *, run_id: str, per_worker: int, parallelism: int, tag: str
) -> float:
    """Run one level of the kubectl shell loop and return its wall-clock seconds."""
    manifest = work / "lease.yaml"
    manifest.write_text(lease_manifest(kubectl_run_id(run_id)), encoding="utf-8")
    command = ["bash", str(SCRIPT), str(parallelism), str(per_worker),
               f"bench-kubectl-{run_id}-{tag}", str(manifest)]
    timed = run_timed(command, log_path=work / f"kubectl-{tag}.log",
                      timeout=SECONDS_PER_ROUND * per_worker + 60, cwd=work,
                      env=_kubectl_env(info, work), label="kubectl shell loop")
    return timed.seconds


def sparkrig_run_id(run_id: str) -> str:
    """Return the `sparkrig/run-id` label value of the leases that sparkrig makes."""
    return f"{run_id}-s"


def kubectl_run_id(run_id: str) -> str:
    """Return the `sparkrig/run-id` label value of the leases that kubectl makes."""
    return f"{run_id}-k"


def time_sparkrig_level(
    info: ClusterInfo, *, run_id: str, per_worker: int, parallelism: int
) -> float:
    """Run one level through `sparkrig.kube.lease.namespace_lease` in threads.

    Returns the wall-clock seconds. Raises `BenchToolError` when a namespace of
    this level is still there afterwards, because `namespace_lease` reports a
    failed deletion in its log instead of raising.
    """
    from sparkrig.kube.client import KubeClient
    from sparkrig.kube.lease import LABEL_RUN_ID, namespace_lease
    from sparkrig.scenario.model import Resources, Scenario

    level_run_id = sparkrig_run_id(run_id)
    resources = Resources(cpu_millis=QUOTA_CPU_MILLIS, memory_bytes=QUOTA_MEMORY_BYTES,
                          pods=int(QUOTA_PODS), cpu=QUOTA_CPU, memory=QUOTA_MEMORY)

    def worker(index: int) -> None:
        for number in range(per_worker):
            scenario = Scenario(name=f"bench-lease-{index}-{number}", tier="smoke",
                                source=Path(__file__), resources=resources)
            with namespace_lease(info, scenario, run_id=level_run_id, uninstall=False):
                pass

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="lease") as pool:
        for future in [pool.submit(worker, index) for index in range(parallelism)]:
            future.result()
    elapsed = time.perf_counter() - started

    with KubeClient(info) as client:
        left = client.list("/api/v1/namespaces",
                           label_selector=f"{LABEL_RUN_ID}={level_run_id}")
    if left:
        raise BenchToolError(f"{len(left)} namespaces of run {level_run_id} were not deleted")
    return elapsed


def delete_leftovers(info: ClusterInfo, work: Path, run_id: str) -> None:
    """Delete every namespace this benchmark labelled, without waiting."""
    result = subprocess.run(
        ["kubectl", "delete", "namespace", "-l",
         f"sparkrig/run-id in ({sparkrig_run_id(run_id)}, {kubectl_run_id(run_id)})",
         "--wait=false"],
        env=_kubectl_env(info, work), capture_output=True, text=True, timeout=120, check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        logger.warning("deleting leftover namespaces labelled sparkrig/run-id=%s failed: %s",
                       run_id, result.stderr.strip())
    elif "deleted" in result.stdout:
        logger.warning("deleted leftover namespaces: %s", result.stdout.strip())


def measure_lifecycle(
    work: Path,
    *,
    leases: int,
    parallelism_levels: Sequence[int],
    repeats: int,
    require_running: bool,
) -> tuple[list[Row], str | None]:
    """Measure leases per second at each level; return rows, or none and a reason to skip."""
    handle, reason = connect_cluster(require_running)
    if handle is None:
        return [], reason
    run_id = f"bench-{secrets.token_hex(3)}"
    try:
        return [
            _measure_level(handle.info, work, run_id=run_id, leases=leases,
                           parallelism=parallelism, repeats=repeats)
            for parallelism in parallelism_levels
        ], None
    finally:
        delete_leftovers(handle.info, work, run_id)
        stop_cluster(handle)


def _measure_level(
    info: ClusterInfo, work: Path, *, run_id: str, leases: int, parallelism: int, repeats: int
) -> Row:
    per_worker, total = leases_for_level(leases, parallelism)
    kubectl_rates: list[float] = []
    sparkrig_rates: list[float] = []
    sparkrig_error = kubectl_error = ""
    for repeat in range(repeats):
        tag = f"p{parallelism}r{repeat}"
        if not sparkrig_error:
            try:
                seconds = time_sparkrig_level(info, run_id=run_id, per_worker=per_worker,
                                              parallelism=parallelism)
                sparkrig_rates.append(total / seconds)
            except Exception as exc:  # any failure of the API under test is a result, not a crash
                logger.error("sparkrig leases at %d failed: %s", parallelism, exc)
                sparkrig_error = f"failed: {exc}"
        if not kubectl_error:
            try:
                seconds = time_kubectl_level(info, work, run_id=run_id, per_worker=per_worker,
                                             parallelism=parallelism, tag=tag)
                kubectl_rates.append(total / seconds)
            except BenchToolError as exc:
                logger.error("%s", exc)
                kubectl_error = f"failed: {exc}"

    sparkrig_summary = summarize(sparkrig_rates) if sparkrig_rates else None
    kubectl_summary = summarize(kubectl_rates) if kubectl_rates else None
    return Row(
        measure=f"namespace lifecycle: {total} leases at {parallelism} at once (leases/s)",
        sparkrig=sparkrig_error or _rate(sparkrig_summary),
        peers=f"kubectl shell loop {kubectl_error or _rate(kubectl_summary)}",
        lower_bound="-",
        ratio=_ratio(sparkrig_summary, kubectl_summary),
    )


def _rate(summary: Summary | None) -> str:
    return summary.format(unit="/s") if summary else "not run"


def _ratio(sparkrig: Summary | None, kubectl: Summary | None) -> str:
    if sparkrig is None or kubectl is None:
        return "-"
    return f"{ratio(sparkrig.median, kubectl.median):.2f} (sparkrig / kubectl, higher is faster)"
