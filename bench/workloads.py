"""Workloads: job durations and the script scenario files that sleep for them.

Every tool under test runs the same files. Each file is a script scenario in
the format of docs/scenarios.md: a POSIX shell script with a `# @meta` header
whose body sleeps for the job's duration. The work itself costs no CPU, so the
measured time beyond the schedule's lower bound is the scheduler's overhead.
Files are numbered in generation order, so a FIFO peer that is fed the sorted
file list runs them in that order.

No file declares `estimated_time`: the only source of duration knowledge for
sparkrig is the durations history of an earlier run, as the skewed measure
requires.

`synthetic_run` makes the other workload, a large `RunResult` for the report
writers.
"""

from __future__ import annotations

import datetime
import random
import stat
from collections.abc import Sequence
from pathlib import Path

from bench.schedule import lower_bound
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status
from sparkrig.scenario.model import TIERS

__all__ = [
    "DEFAULT_PARETO_ALPHA",
    "DEFAULT_SEED",
    "constant_durations",
    "pareto_durations",
    "scenario_script",
    "synthetic_run",
    "write_scenarios",
]

# A shape parameter of 1.5 gives a heavy tail (infinite variance) in which a few
# jobs take several times the median, the pattern of chart suites where a load
# or e2e scenario dwarfs many smoke checks.
DEFAULT_PARETO_ALPHA = 1.5
DEFAULT_SEED = 20240611

# Durations are rounded to this many seconds; finer values add nothing that
# `sleep` and process start-up jitter would not swamp.
DURATION_STEP = 0.01


def constant_durations(count: int, seconds: float) -> list[float]:
    """Return `count` jobs of `seconds` each (the scheduler-overhead workload)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    return [seconds] * count


def pareto_durations(
    count: int,
    *,
    parallelism: int,
    target_bound: float,
    alpha: float = DEFAULT_PARETO_ALPHA,
    seed: int = DEFAULT_SEED,
    minimum: float = 0.05,
) -> list[float]:
    """Return `count` Pareto-distributed durations whose lower bound is near `target_bound`.

    The same arguments always give the same list. Durations are rounded to
    `DURATION_STEP` and are at least `minimum` seconds, so the lower bound of
    the result can differ from `target_bound` by a few hundredths of a second.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if target_bound <= 0:
        raise ValueError(f"target_bound must be positive, got {target_bound}")
    generator = random.Random(seed)
    raw = [generator.paretovariate(alpha) for _ in range(count)]
    scale = target_bound / lower_bound(raw, parallelism)
    return [max(minimum, _round_step(value * scale)) for value in raw]


def _round_step(seconds: float) -> float:
    return round(round(seconds / DURATION_STEP) * DURATION_STEP, 2)


def scenario_script(name: str, seconds: float, tier: str = "smoke") -> str:
    """Return the text of a script scenario that sleeps for `seconds`."""
    return (
        "#!/bin/sh\n"
        "# @meta\n"
        f"# name: {name}\n"
        f"# tier: {tier}\n"
        f"# description: Benchmark job that sleeps {seconds:.2f} s\n"
        "# tags: bench\n"
        "# @endmeta\n"
        f"exec sleep {seconds:.2f}\n"
    )


def write_scenarios(folder: Path, durations: Sequence[float], prefix: str) -> list[Path]:
    """Write one executable script scenario per duration and return the paths in order."""
    folder.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(durations) - 1)))
    paths: list[Path] = []
    for index, seconds in enumerate(durations):
        name = f"{prefix}-{index:0{width}d}"
        path = folder / f"{name}.sh"
        path.write_text(scenario_script(name, seconds), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        paths.append(path)
    return paths


# Share of each status in synthetic results: mostly passes, with enough failures
# and errors that the reports render their failure sections at scale.
SYNTHETIC_STATUS_CYCLE = (
    *(["passed"] * 90), *(["failed"] * 5), *(["skipped"] * 2), *(["error"] * 2), "timed_out",
)
SYNTHETIC_OUTPUT_TAIL_LINES = 40


def synthetic_run(count: int, *, max_parallel: int = 8) -> RunResult:
    """Return a deterministic `RunResult` of `count` scenarios spread over the four tiers.

    Failed, error and timed-out scenarios carry an output tail of
    `SYNTHETIC_OUTPUT_TAIL_LINES` lines, as real failures do.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    scenarios: list[ScenarioResult] = []
    for index in range(count):
        status = Status(SYNTHETIC_STATUS_CYCLE[index % len(SYNTHETIC_STATUS_CYCLE)])
        tier = TIERS[index % len(TIERS)]
        name = f"synthetic-{index:05d}"
        began = start + datetime.timedelta(seconds=index * 0.5)
        duration = 1.0 + (index * 7919 % 600) / 10
        ended = began + datetime.timedelta(seconds=duration)
        attempt = Attempt(
            number=1,
            namespace=f"spark-test-{name}-20250101000000",
            release=f"spark-{name}-a1b2c",
            started_at=began.isoformat(),
            ended_at=ended.isoformat(),
            status=status,
            exit_code=0 if status.is_success else 1,
            reason="" if status.is_success else f"{status}: synthetic reason {index}",
        )
        tail = ""
        if not status.is_success:
            tail = "\n".join(
                f"line {line}: kubectl -n {attempt.namespace} get pods <- synthetic output"
                for line in range(SYNTHETIC_OUTPUT_TAIL_LINES)
            )
        scenarios.append(
            ScenarioResult(
                name=name,
                tier=tier,
                status=status,
                reason=attempt.reason,
                tags=["bench", tier],
                description=f"Synthetic scenario {index} for the report benchmark",
                source=f"scenarios/{tier}/{name}.yaml",
                started_at=attempt.started_at,
                ended_at=attempt.ended_at,
                duration=duration,
                attempts=[attempt],
                output_tail=tail,
            )
        )
    return RunResult(
        run_id="20250101T000000Z-bench",
        started_at=start.isoformat(),
        ended_at=(start + datetime.timedelta(seconds=count * 0.5 + 60)).isoformat(),
        sparkrig_version="bench",
        cluster={"provider": "none"},
        selection={"scenarios": "synthetic"},
        max_parallel=max_parallel,
        exit_code=1,
        scenarios=scenarios,
    )
