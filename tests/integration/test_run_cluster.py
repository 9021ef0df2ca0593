"""`sparkrig run` as a subprocess against the local cluster (`--cluster existing`).

The `cluster` fixture points KUBECONFIG and PATH (helm, kubectl) at the local
cluster, and the subprocess inherits both. These tests check isolation and
cleanup: every scenario in a namespace of its own, and no namespace of the run
left afterwards, also when a worker is killed or the run is interrupted.
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from runs import latest_results, sparkrig_run, start_until_marked

from sparkrig.cluster.base import ClusterInfo

pytestmark = pytest.mark.integration

RUN_TIMEOUT = 300  # seconds; namespace deletes on the local cluster take a few seconds each


def write_yaml(folder: Path, name: str, command: str, *, timeout: str = "120s",
               cpu: str = "100m") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(
        f"name: {name}\ntier: smoke\ntimeout: {timeout}\n"
        f"resources: {{cpu: {cpu}, memory: 64Mi, pods: 2}}\n"
        f"steps:\n  - run: {{command: {json.dumps(command)}, timeout: {timeout}}}\n",
        encoding="utf-8",
    )


def sparkrig(tmp_path: Path, *args: str) -> list[str]:
    return sparkrig_run(tmp_path, "existing", *args)


def run_namespaces(run_id: str) -> list[str]:
    completed = subprocess.run(
        ["kubectl", "get", "namespaces", "-l", f"sparkrig/run-id={run_id}", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return completed.stdout.split()


def namespaces_left(run_id: str, limit: float = 60.0) -> list[str]:
    """Return the run's namespaces still present after waiting up to `limit` seconds."""
    deadline = time.monotonic() + limit
    while (left := run_namespaces(run_id)) and time.monotonic() < deadline:
        time.sleep(1)
    return left


def test_run_unique_namespaces_cleaned(cluster: ClusterInfo, tmp_path: Path) -> None:
    record = tmp_path / "namespaces"
    for index in range(4):
        write_yaml(
            tmp_path / "scenarios",
            f"ns{index}",
            f"kubectl get namespace ${{NAMESPACE}} -o name && echo ${{NAMESPACE}} >> {record}",
        )

    completed = subprocess.run(
        sparkrig(tmp_path, "--max", "4"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    seen = record.read_text().split()
    assert len(seen) == 4
    assert len(set(seen)) == 4
    run = latest_results(tmp_path)
    assert {item["attempts"][0]["namespace"] for item in run["scenarios"]} == set(seen)
    assert namespaces_left(run["run_id"]) == []


def test_run_killed_worker_namespace_removed(cluster: ClusterInfo, tmp_path: Path) -> None:
    write_yaml(tmp_path / "scenarios", "victim", "sleep 1; kill -9 $(ps -o sid= $$); sleep 300")
    write_yaml(tmp_path / "scenarios", "bystander", "sleep 2")

    completed = subprocess.run(
        sparkrig(tmp_path),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )

    assert completed.returncode == 1, completed.stdout + completed.stderr
    run = latest_results(tmp_path)
    found = {item["name"]: item for item in run["scenarios"]}
    assert found["victim"]["status"] == "error"
    assert found["victim"]["reason"] == "worker died (signal 9)"
    assert found["bystander"]["status"] == "passed"
    assert namespaces_left(run["run_id"]) == []


def test_run_sigint_removes_namespaces(cluster: ClusterInfo, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    for index in range(6):
        write_yaml(
            tmp_path / "scenarios",
            f"long{index}",
            f"touch {marks}/long{index}; sleep 300",
            timeout="5m",
        )
    process = start_until_marked(sparkrig(tmp_path, "--max", "4"), marks, 4, limit=120)

    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=150)

    assert process.returncode == 130, stdout + stderr
    run = latest_results(tmp_path)
    assert len(run["scenarios"]) == 6
    assert all(item["status"] == "interrupted" for item in run["scenarios"])
    assert namespaces_left(run["run_id"]) == []


def test_run_admits_by_cluster_capacity(cluster: ClusterInfo, tmp_path: Path) -> None:
    # The local cluster has 4 nodes of 16 CPU: two scenarios of 40 CPU never fit at once.
    assert cluster.capacity is not None
    assert cluster.capacity.cpu_millis == 64_000
    marks = tmp_path / "marks"
    marks.mkdir()
    names = ["big0", "big1", "big2"]
    for name in names:
        write_yaml(
            tmp_path / "scenarios",
            name,
            f"date +%s.%N > {marks}/{name}.start; sleep 2; date +%s.%N > {marks}/{name}.end",
            cpu="40",
        )

    completed = subprocess.run(
        sparkrig(tmp_path, "--max", "3"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    spans = sorted(
        (float((marks / f"{name}.start").read_text()), float((marks / f"{name}.end").read_text()))
        for name in names
    )
    for (_, earlier_end), (later_start, _) in itertools.pairwise(spans):
        assert later_start >= earlier_end
    run = latest_results(tmp_path)
    assert all(item["status"] == "passed" for item in run["scenarios"])
    assert namespaces_left(run["run_id"]) == []
