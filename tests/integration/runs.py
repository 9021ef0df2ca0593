"""Helpers of the integration tests: one attempt in-process, or `sparkrig run` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sparkrig.cluster.base import ClusterInfo
from sparkrig.execute import AttemptContext, AttemptOutcome, execute_attempt
from sparkrig.kube.names import random_suffix
from sparkrig.scenario.loader import load_file


def write_scenario(folder: Path, name: str, body: str) -> Path:
    """Write `body`, dedented, as the YAML scenario `folder/name.yaml`."""
    path = folder / f"{name}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def run_attempt(
    cluster: ClusterInfo | None,
    path: Path,
    tmp_path: Path,
    *,
    timeout: float | None = None,
    keep_on_failure: bool = False,
) -> tuple[AttemptOutcome, Path, str]:
    """Run the first attempt of the scenario at `path` here; return it, its folder and run id.

    `timeout` replaces the scenario's own timeout.
    """
    scenario = load_file(path)
    run_id = f"test-{datetime.now(UTC):%H%M%S}-{random_suffix()}"
    scenario_dir = tmp_path / "reports" / scenario.name
    context = AttemptContext(
        run_id=run_id,
        attempt=1,
        cluster=cluster,
        scenario_dir=scenario_dir,
        deadline=time.monotonic() + (timeout if timeout is not None else scenario.timeout),
        keep_on_failure=keep_on_failure,
    )
    return execute_attempt(scenario, context), scenario_dir, run_id


def sparkrig_run(tmp_path: Path, cluster: str, *args: str) -> list[str]:
    """Return the command line of a run of `tmp_path/scenarios` into `tmp_path/reports`."""
    return [
        sys.executable,
        "-m",
        "sparkrig",
        "run",
        "--cluster",
        cluster,
        "--scenarios",
        str(tmp_path / "scenarios"),
        "--results-dir",
        str(tmp_path / "reports"),
        *args,
    ]


def latest_results(tmp_path: Path) -> dict[str, Any]:
    """Return the results.json of the latest run in `tmp_path/reports`."""
    data: dict[str, Any] = json.loads(
        (tmp_path / "reports" / "latest" / "results.json").read_text()
    )
    return data


def start_until_marked(
    command: list[str], marks: Path, count: int, limit: float
) -> subprocess.Popen[str]:
    """Start `command` and return once its scenarios left `count` files in `marks`.

    Fails the test when that takes more than `limit` seconds.
    """
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + limit
    while len(list(marks.iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(list(marks.iterdir())) == count
    return process
