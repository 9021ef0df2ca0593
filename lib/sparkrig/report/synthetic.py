"""Synthetic runs for benchmarks and tests of the report writers.

`synthetic_run(count)` builds a deterministic run with a realistic mix of
statuses, retries, tags and overlapping start times. `write_synthetic_reports`
writes every format for it and returns the file sizes. The bench engineer's
`bench/bench_reports.py` times this function.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sparkrig import __version__
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status

__all__ = ["synthetic_run", "write_synthetic_reports"]

_TIERS = ("smoke", "e2e", "load", "security")
_TAGS = ("connect", "history", "operator", "rbac", "network", "fast", "slow", "script")
# Out of 100 scenarios: 85 pass (5 of them on a retry), 6 fail, 3 error, 2 time out, 4 skip.
_STATUS_WEIGHTS = (
    (Status.PASSED, 85),
    (Status.FAILED, 6),
    (Status.ERROR, 3),
    (Status.TIMED_OUT, 2),
    (Status.SKIPPED, 4),
)
_OUTPUT_LINE = "\x1b[32mINFO\x1b[0m step {step}: kubectl -n {namespace} get pods -> Ready\n"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _attempts(name: str, status: Status, retried: bool, start: datetime,
              duration: float) -> list[Attempt]:
    if status is Status.SKIPPED:
        return []
    statuses = [Status.ERROR, status] if retried else [status]
    share = duration / len(statuses)
    attempts = []
    for number, attempt_status in enumerate(statuses, start=1):
        begin = start + timedelta(seconds=share * (number - 1))
        attempts.append(Attempt(
            number=number,
            namespace=f"spark-test-{name}-{number}",
            release=f"spark-{name}-{number:02d}",
            started_at=_iso(begin),
            ended_at=_iso(begin + timedelta(seconds=share)),
            status=attempt_status,
            exit_code=0 if attempt_status is Status.PASSED else 1,
            reason="" if attempt_status is Status.PASSED else f"{attempt_status.value} in step 3",
        ))
    return attempts


def synthetic_run(count: int, *, seed: int = 7, max_parallel: int = 8) -> RunResult:
    """Build a run of `count` scenarios, the same for the same arguments."""
    rng = random.Random(seed)
    origin = datetime(2025, 1, 1, tzinfo=UTC)
    lane_free = [0.0] * max_parallel
    statuses = [status for status, _ in _STATUS_WEIGHTS]
    weights = [weight for _, weight in _STATUS_WEIGHTS]
    scenarios = []

    for index in range(count):
        name = f"scenario-{index:05d}"
        status = rng.choices(statuses, weights)[0]
        retried = status is Status.PASSED and rng.random() < 0.06
        duration = 0.0 if status is Status.SKIPPED else round(rng.uniform(2.0, 120.0), 3)
        lane = min(range(max_parallel), key=lane_free.__getitem__)
        start = origin + timedelta(seconds=lane_free[lane])
        lane_free[lane] += duration
        attempts = _attempts(name, status, retried, start, duration)
        output = "".join(_OUTPUT_LINE.format(step=step, namespace=f"spark-test-{name}")
                         for step in range(5))
        end = start + timedelta(seconds=duration)
        scenarios.append(ScenarioResult(
            name=name,
            tier=_TIERS[index % len(_TIERS)],
            status=status,
            reason={Status.PASSED: "", Status.SKIPPED: "requires containers"}.get(
                status, f"step 3 (assert) {status.value}: service has no port 15002"),
            tags=rng.sample(_TAGS, 2),
            description=f"Synthetic scenario {index}",
            source=f"scenarios/{_TIERS[index % len(_TIERS)]}/{name}.yaml",
            started_at=None if status is Status.SKIPPED else _iso(start),
            ended_at=None if status is Status.SKIPPED else _iso(end),
            duration=duration,
            attempts=attempts,
            flaky=retried,
            output_tail="" if status is Status.SKIPPED else output,
        ))

    return RunResult(
        run_id="20250101T000000Z-synth",
        started_at=_iso(origin),
        ended_at=_iso(origin + timedelta(seconds=max(lane_free))),
        sparkrig_version=__version__,
        cluster={"provider": "synthetic"},
        selection={"tiers": list(_TIERS)},
        max_parallel=max_parallel,
        exit_code=1,
        scenarios=scenarios,
    )


def write_synthetic_reports(count: int, run_dir: Path) -> dict[str, int]:
    """Write all report formats for a synthetic run of `count` scenarios; return sizes in bytes."""
    from sparkrig.report import REPORT_FILES, write_reports  # the package imports this module

    write_reports(synthetic_run(count), run_dir)
    return {name: (run_dir / name).stat().st_size for name in REPORT_FILES}
