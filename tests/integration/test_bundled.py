"""The bundled scenarios of every tier pass, or skip with a reason, on the local cluster.

Each test runs one tier through the real command line (`python -m sparkrig run
--cluster local`) against the session's cluster, then reads the run's
results.json. The local cluster has no `containers` capability, so the e2e
tier must come back skipped with that reason rather than failed.

The `cluster` fixture does not expose its state folder, so the runner is
pointed at it through SPARKRIG_STATE_DIR, the folder that contains the
kubeconfig; `cluster up` then finds the running cluster and reuses it.

`spark-submit-driver-admitted` needs java and the pyspark package (the
`spark` extra). Where either is missing, the security run leaves it out and a
separate test skips with that reason, so a machine without the extra still
runs every other security scenario.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sparkrig.cluster.base import ClusterInfo
from sparkrig.scenario.loader import load_scenarios

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SPARK_SUBMIT_SCENARIO = "spark-submit-driver-admitted"
# Generous: the slowest tier (load, 50 workers) takes about a minute on an idle
# 2-core machine; shared CI machines are slower.
RUN_TIMEOUT_SECONDS = 900
MAX_PARALLEL = "4"


def spark_submit_missing() -> str:
    """Return why the spark-submit scenario cannot run here, or "" when it can."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "java not found; install a JDK 17+"
    try:
        import pyspark  # noqa: F401 - only probing whether the spark extra is installed
    except ImportError:
        return "pyspark not installed; run: .venv/bin/pip install -e '.[spark]'"
    return ""


def run_tier(cluster: ClusterInfo, tier: str, results_dir: Path,
             names: list[str] | None = None) -> tuple[subprocess.CompletedProcess[str],
                                                      dict[str, Any]]:
    """Run one tier of the bundled scenarios and return the process and results.json."""
    assert cluster.kubeconfig is not None
    env = dict(os.environ)
    env["SPARKRIG_STATE_DIR"] = str(cluster.kubeconfig.parent)
    command = [
        sys.executable, "-m", "sparkrig", "run",
        "--scenarios", str(SCENARIOS),
        "--tier", tier,
        "--cluster", "local",
        "--max", MAX_PARALLEL,
        "--results-dir", str(results_dir),
    ]
    for name in names or []:
        command += ["--scenario", name]
    process = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=RUN_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL, check=False,
    )
    results_path = results_dir / "latest" / "results.json"
    assert results_path.is_file(), f"no results.json; stderr:\n{process.stderr[-3000:]}"
    results: dict[str, Any] = json.loads(results_path.read_text(encoding="utf-8"))
    return process, results


def describe(results: dict[str, Any]) -> str:
    lines = []
    for scenario in results["scenarios"]:
        lines.append(f"{scenario['name']}: {scenario['status']} {scenario.get('reason', '')}")
        if scenario["status"] not in ("passed", "skipped"):
            lines.append(scenario.get("output_tail", "")[-2000:])
    return "\n".join(lines)


def tier_names(tier: str) -> list[str]:
    return [s.name for s in load_scenarios(SCENARIOS) if s.tier == tier]


def assert_all_passed_or_skipped(process: subprocess.CompletedProcess[str],
                                 results: dict[str, Any], expected: list[str]) -> None:
    summary = describe(results)
    assert sorted(s["name"] for s in results["scenarios"]) == sorted(expected), summary
    for scenario in results["scenarios"]:
        assert scenario["status"] in ("passed", "skipped"), summary
        if scenario["status"] == "skipped":
            assert scenario["reason"], f"{scenario['name']} skipped without a reason"
    assert process.returncode == 0, f"{summary}\nstderr:\n{process.stderr[-3000:]}"


@pytest.mark.parametrize("tier", ["smoke", "load"])
def test_bundled_tier_passes(cluster: ClusterInfo, tier: str, tmp_path: Path) -> None:
    process, results = run_tier(cluster, tier, tmp_path)
    assert_all_passed_or_skipped(process, results, tier_names(tier))
    assert all(s["status"] == "passed" for s in results["scenarios"]), describe(results)


def test_bundled_security_passes(cluster: ClusterInfo, tmp_path: Path) -> None:
    names = tier_names("security")
    if spark_submit_missing():
        names.remove(SPARK_SUBMIT_SCENARIO)
    process, results = run_tier(cluster, "security", tmp_path, names)
    assert_all_passed_or_skipped(process, results, names)
    assert all(s["status"] == "passed" for s in results["scenarios"]), describe(results)


def test_bundled_spark_submit_driver_admitted(cluster: ClusterInfo, tmp_path: Path) -> None:
    missing = spark_submit_missing()
    if missing:
        pytest.skip(f"{SPARK_SUBMIT_SCENARIO} needs spark-submit: {missing}")
    process, results = run_tier(cluster, "security", tmp_path, [SPARK_SUBMIT_SCENARIO])
    assert_all_passed_or_skipped(process, results, [SPARK_SUBMIT_SCENARIO])
    assert results["scenarios"][0]["status"] == "passed", describe(results)


def test_bundled_e2e_skips_without_containers(cluster: ClusterInfo, tmp_path: Path) -> None:
    process, results = run_tier(cluster, "e2e", tmp_path)
    assert_all_passed_or_skipped(process, results, tier_names("e2e"))
    for scenario in results["scenarios"]:
        assert scenario["status"] == "skipped", describe(results)
        assert "containers" in scenario["reason"], scenario["reason"]
