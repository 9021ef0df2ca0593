"""Facts about a run that every report format shows the same way.

Counts, pass rate, wall-clock duration, peak parallelism, the flaky flag and
artifact paths are computed here once, so results.json, JUnit XML, HTML and
Markdown cannot disagree about them.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sparkrig.results import RunResult, ScenarioResult, Status

__all__ = [
    "FAILING_STATUSES",
    "RunSummary",
    "is_flaky",
    "is_not_started",
    "peak_parallel",
    "mark_flaky",
    "parse_time",
    "resolve_artifact",
    "relative_artifact",
    "summarize",
    "assign_lanes",
]

FAILING_STATUSES = frozenset({Status.FAILED, Status.ERROR, Status.TIMED_OUT, Status.INTERRUPTED})


def is_flaky(result: ScenarioResult) -> bool:
    """Return whether the scenario passed only after a failed attempt (or was marked so)."""
    if result.status is not Status.PASSED:
        return False
    return result.flaky or any(attempt.status is not Status.PASSED for attempt in result.attempts)


def mark_flaky(run: RunResult) -> RunResult:
    """Return a copy of `run` whose scenarios carry the flaky flag that their attempts imply."""
    scenarios = [dataclasses.replace(result, flaky=is_flaky(result)) for result in run.scenarios]
    return dataclasses.replace(run, scenarios=scenarios)


def parse_time(value: str | None) -> datetime | None:
    """Parse an ISO 8601 timestamp; return None for a missing or unreadable one."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def resolve_artifact(run_dir: Path, path: str | None) -> Path | None:
    """Return the absolute path of an output or diagnostics path stored in a result."""
    if not path:
        return None
    candidate = Path(path)
    return candidate if candidate.is_absolute() else run_dir / candidate


def relative_artifact(run_dir: Path, path: str | None) -> str | None:
    """Return an artifact path relative to the run folder, as links in report.html need."""
    resolved = resolve_artifact(run_dir, path)
    if resolved is None:
        return None
    return Path(os.path.relpath(resolved, run_dir)).as_posix()


@dataclass(frozen=True)
class RunSummary:
    """Totals of a run. Durations are in seconds."""

    total: int
    counts: dict[Status, int]
    flaky: int
    wall_seconds: float
    scenario_seconds: float
    max_parallel: int
    peak_parallel: int
    not_started: int = 0  # interrupted scenarios that had no attempt

    @property
    def failing(self) -> int:
        return sum(self.counts[status] for status in FAILING_STATUSES)

    @property
    def verdict(self) -> str:
        """Return "interrupted", "failed" or "passed"; an interrupt outranks failures."""
        if self.counts[Status.INTERRUPTED]:
            return "interrupted"
        return "failed" if self.failing else "passed"

    @property
    def interrupted_running(self) -> int:
        """Return how many scenarios the interrupt stopped while they ran."""
        return self.counts[Status.INTERRUPTED] - self.not_started

    @property
    def pass_rate(self) -> float | None:
        """Passed over scenarios that ran (skipped excluded), or None when none ran."""
        ran = self.total - self.counts[Status.SKIPPED]
        return self.counts[Status.PASSED] / ran if ran else None


def _interval(result: ScenarioResult) -> tuple[datetime, datetime] | None:
    start, end = parse_time(result.started_at), parse_time(result.ended_at)
    if start is None or end is None:
        return None
    try:
        return (start, end) if end >= start else (start, start)
    except TypeError:  # one timestamp has a UTC offset and the other has none
        return None


def assign_lanes(run: RunResult) -> list[tuple[int, ScenarioResult]]:
    """Place each timed scenario in the first free lane, so overlapping scenarios differ in lane.

    Greedy by start time with a heap of lane end times uses as many lanes as
    the most scenarios that ran at once. Scenarios without both timestamps
    (typically skipped ones) are left out.
    """
    timed = [(interval, result) for result in run.scenarios if (interval := _interval(result))]
    timed.sort(key=lambda item: (item[0][0], item[0][1], item[1].name))
    free_at: list[tuple[datetime, int]] = []
    placed: list[tuple[int, ScenarioResult]] = []
    lanes = 0
    for (start, end), result in timed:
        if free_at and free_at[0][0] <= start:
            _, lane = heapq.heappop(free_at)
        else:
            lane = lanes
            lanes += 1
        heapq.heappush(free_at, (end, lane))
        placed.append((lane, result))
    return placed


def is_not_started(result: ScenarioResult) -> bool:
    """Return whether the run was interrupted before this scenario's first attempt."""
    return result.status is Status.INTERRUPTED and not result.attempts


def peak_parallel(run: RunResult) -> int:
    """Return the most attempts that ran at once, from the attempts' start and end times.

    At equal timestamps an end counts before a start, so back-to-back
    attempts in one slot count once. Attempts without a start time are left
    out, and one without an end time counts as running until the run ended.
    """
    events: list[tuple[datetime, int]] = []
    run_end = parse_time(run.ended_at)
    for result in run.scenarios:
        for attempt in result.attempts:
            start = parse_time(attempt.started_at)
            end = parse_time(attempt.ended_at) or run_end
            if start is None or end is None:
                continue
            try:
                end = max(end, start)
            except TypeError:  # one timestamp has a UTC offset and the other has none
                continue
            events.append((start, 1))
            events.append((end, -1))
    try:
        events.sort()  # -1 sorts before 1, so ends come first at equal times
    except TypeError:
        return 0
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def summarize(run: RunResult) -> RunSummary:
    """Count the run's scenarios by status and measure its duration and parallelism."""
    counts = Counter({status: 0 for status in Status})
    counts.update(result.status for result in run.scenarios)

    start, end = parse_time(run.started_at), parse_time(run.ended_at)
    try:
        wall = (end - start).total_seconds() if start and end else 0.0
    except TypeError:
        wall = 0.0

    return RunSummary(
        total=len(run.scenarios),
        counts=dict(counts),
        flaky=sum(1 for result in run.scenarios if is_flaky(result)),
        wall_seconds=max(wall, 0.0),
        scenario_seconds=sum(result.duration for result in run.scenarios),
        max_parallel=run.max_parallel,
        peak_parallel=peak_parallel(run),
        not_started=sum(1 for result in run.scenarios if is_not_started(result)),
    )
