"""The dependency-aware scenario queue: the runner's `Scheduler`.

Pending scenarios are kept in priority order (see `ordering`). A pending
scenario is ready when every dependency inside the queue has passed; a
dependency outside the queue (not selected) counts as passed. `next_to_start`
returns the first ready scenario that the admission budget has room for, so a
large scenario waiting for room does not hold back smaller ones behind it.

When a scenario ends with any status other than passed, its pending dependants
are skipped at once, transitively, each with a reason naming the dependency
and its status.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

from sparkrig.results import Status
from sparkrig.scenario.model import Scenario
from sparkrig.scheduler.admission import UnlimitedAdmission
from sparkrig.scheduler.base import Admission, Skip
from sparkrig.scheduler.ordering import ordered

__all__ = ["ScenarioQueue"]

logger = logging.getLogger(__name__)


class ScenarioQueue:
    """Pending, running and finished scenarios of one run."""

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        priority: Mapping[str, float],
        admission: Admission | None = None,
    ) -> None:
        self.admission: Admission = admission or UnlimitedAdmission()
        self._names = {scenario.name for scenario in scenarios}
        self._pending: list[Scenario] = ordered(scenarios, priority)
        self._running: dict[str, Scenario] = {}
        self._finished: dict[str, Status] = {}

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    @property
    def running(self) -> list[str]:
        return list(self._running)

    def _is_ready(self, scenario: Scenario) -> bool:
        return all(
            self._finished.get(dependency) == Status.PASSED
            for dependency in scenario.depends_on
            if dependency in self._names
        )

    def upcoming(self) -> Iterator[Scenario]:
        """Yield the ready pending scenarios in the order `next_to_start` considers them.

        Nothing is reserved: a scenario that does not fit now may fit when a
        running one ends.
        """
        return (scenario for scenario in self._pending if self._is_ready(scenario))

    def next_to_start(self) -> Scenario | None:
        for index, scenario in enumerate(self._pending):
            if self._is_ready(scenario) and self.admission.fits(scenario):
                del self._pending[index]
                self.admission.reserve(scenario)
                self._running[scenario.name] = scenario
                return scenario
        return None

    def finish(self, name: str, status: Status) -> list[Skip]:
        scenario = self._running.pop(name)
        self.admission.release(scenario)
        self._finished[name] = status
        if status == Status.PASSED:
            return []
        return self._skip_dependants(name, status)

    def skip(self, name: str, status: Status, reason: str) -> list[Skip]:
        scenario = next(item for item in self._pending if item.name == name)
        self._pending.remove(scenario)
        self._finished[name] = status
        return [Skip(scenario, status, reason), *self._skip_dependants(name, status)]

    def requeue(self, name: str) -> None:
        scenario = self._running.pop(name)
        self.admission.release(scenario)
        self._pending.insert(0, scenario)

    def drain(self, status: Status, reason: str) -> list[Skip]:
        skipped = [Skip(scenario, status, reason) for scenario in self._pending]
        for item in skipped:
            self._finished[item.scenario.name] = status
        self._pending.clear()
        return skipped

    def _skip_dependants(self, name: str, status: Status) -> list[Skip]:
        skipped: list[Skip] = []
        blocked = [name]
        while blocked:
            current = blocked.pop(0)
            current_status = self._finished[current]
            for scenario in list(self._pending):
                if current in scenario.depends_on:
                    self._pending.remove(scenario)
                    self._finished[scenario.name] = Status.SKIPPED
                    reason = f"dependency {current} {current_status}"
                    skipped.append(Skip(scenario, Status.SKIPPED, reason))
                    logger.debug("skipping %s: %s", scenario.name, reason)
                    blocked.append(scenario.name)
        return skipped
