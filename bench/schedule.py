"""Schedule arithmetic: lower bounds, list-schedule simulation and summary statistics.

A workload is a list of job durations in seconds run on `P` slots at once.
No schedule finishes before `max(sum / P, max)`: the slots cannot do more than
`P` seconds of work per second, and the longest job cannot be split. This
module computes that bound and simulates greedy list scheduling (each job
starts on the first slot that frees up, in the given order). The simulation
predicts what a FIFO peer gets from the files' natural order and what a
longest-first scheduler gets from the same jobs sorted by duration.

`phases` splits a measured run into start-up, scheduling and finish, so the
notes show where the time above the lower bound went.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Phases",
    "Summary",
    "lower_bound",
    "phases",
    "list_schedule_makespan",
    "longest_first",
    "ratio",
    "summarize",
]


def lower_bound(durations: Sequence[float], parallelism: int) -> float:
    """Return `max(sum / P, max)`: no schedule on `P` slots finishes sooner."""
    if parallelism < 1:
        raise ValueError(f"parallelism must be at least 1, got {parallelism}")
    if not durations:
        return 0.0
    return max(sum(durations) / parallelism, max(durations))


def list_schedule_makespan(durations: Sequence[float], parallelism: int) -> float:
    """Return the makespan of greedy list scheduling of `durations` in the given order."""
    if parallelism < 1:
        raise ValueError(f"parallelism must be at least 1, got {parallelism}")
    slots = [0.0] * min(parallelism, max(len(durations), 1))
    heapq.heapify(slots)
    for duration in durations:
        free_at = heapq.heappop(slots)
        heapq.heappush(slots, free_at + duration)
    return max(slots)


def longest_first(durations: Sequence[float]) -> list[float]:
    """Return the durations sorted longest first, the order of an LPT scheduler."""
    return sorted(durations, reverse=True)


def ratio(measured: float, reference: float) -> float:
    """Return `measured / reference`; a reference of 0 or less gives NaN, not an error."""
    if reference <= 0:
        return float("nan")
    return measured / reference


@dataclass(frozen=True)
class Summary:
    """Median, minimum and maximum of repeated samples of one measure."""

    median: float
    minimum: float
    maximum: float
    count: int

    def format(self, unit: str = "s", digits: int = 2) -> str:
        """Render as `median unit (min-max)`, or the bare median for one sample."""
        if self.count == 1:
            return f"{self.median:.{digits}f} {unit}"
        return (
            f"{self.median:.{digits}f} {unit} "
            f"({self.minimum:.{digits}f}-{self.maximum:.{digits}f})"
        )


def summarize(samples: Sequence[float]) -> Summary:
    """Return the median, minimum and maximum of at least one sample."""
    if not samples:
        raise ValueError("summarize needs at least one sample")
    return Summary(
        median=statistics.median(samples),
        minimum=min(samples),
        maximum=max(samples),
        count=len(samples),
    )


@dataclass(frozen=True)
class Phases:
    """Wall-clock time of one run split into phases, in seconds.

    `startup` runs from launching the command to the first job's start,
    `schedule` from the first job's start to the last job's end, and `finish`
    from the last job's end to the command's exit (reports, history).
    `per_job` is the mean of each job's recorded duration minus its own work.
    """

    startup: float
    schedule: float
    finish: float
    per_job: float


def phases(
    *,
    launched: float,
    exited: float,
    starts: Sequence[float],
    ends: Sequence[float],
    recorded: Sequence[float],
    work: Sequence[float],
) -> Phases:
    """Split a run into start-up, scheduling and finish, from epoch-second timestamps."""
    if not starts or not ends:
        raise ValueError("phases needs the start and end of at least one job")
    if len(recorded) != len(work):
        raise ValueError(f"got {len(recorded)} recorded durations for {len(work)} jobs")
    first_start = min(starts)
    last_end = max(ends)
    extra = [measured - own for measured, own in zip(recorded, work, strict=True)]
    return Phases(
        startup=first_start - launched,
        schedule=last_end - first_start,
        finish=exited - last_end,
        per_job=statistics.fmean(extra) if extra else 0.0,
    )
