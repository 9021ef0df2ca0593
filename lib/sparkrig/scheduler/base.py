"""The scheduler's interface: which scenario starts next, and what a finished one frees.

The runner owns the worker processes and the parallelism bound (`--max`); a
`Scheduler` owns the order. The runner calls `next_to_start()` whenever a slot
is free and reports every end through `finish()`. `finish()` returns the
scenarios that can no longer run because of that end (dependants of a scenario
that did not pass). Strategies live in their own modules: `ordering` (longest expected
first), `sharding` (`--shard i/N`), `admission` (resource budget) and `queue`
(the dependency-aware implementation of this Protocol).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sparkrig.results import Status
from sparkrig.scenario.model import Scenario

__all__ = ["Scheduler", "Admission", "Skip"]


@dataclass(frozen=True)
class Skip:
    """A scenario removed from the queue without running, and why."""

    scenario: Scenario
    status: Status
    reason: str


class Admission(Protocol):
    """Decides whether a scenario's `resources` fit beside the running ones."""

    def never_fits(self, scenario: Scenario) -> str | None:
        """Return why the scenario can never start (its request exceeds the total), or None."""
        ...

    def fits(self, scenario: Scenario) -> bool: ...

    def reserve(self, scenario: Scenario) -> None: ...

    def release(self, scenario: Scenario) -> None: ...


class Scheduler(Protocol):
    """The order of a run's scenarios, as the module docstring describes."""

    @property
    def has_pending(self) -> bool:
        """True while some scenario has neither started nor been skipped."""
        ...

    def next_to_start(self) -> Scenario | None:
        """Return a scenario that may start now and mark it running, or None."""
        ...

    def upcoming(self) -> Iterator[Scenario]:
        """Yield the scenarios that `next_to_start` would consider, in its order, reserving none."""
        ...

    def finish(self, name: str, status: Status) -> list[Skip]:
        """Record the end of a running scenario; return the dependants skipped because of it."""
        ...

    def skip(self, name: str, status: Status, reason: str) -> list[Skip]:
        """Remove a pending scenario without running it; return it and its skipped dependants."""
        ...

    def requeue(self, name: str) -> None:
        """Put a running scenario back in the queue, for a retry in fresh names."""
        ...

    def drain(self, status: Status, reason: str) -> list[Skip]:
        """Remove every pending scenario (fail-fast, interrupt) and return them."""
        ...
