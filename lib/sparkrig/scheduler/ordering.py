"""Longest expected first: the order in which ready scenarios start.

A scenario's expected duration is, in this order of preference: the mean of its
recent durations from the history of earlier runs, its `estimated_time`, or a
quarter of its timeout (`TIMEOUT_FRACTION`, an estimate: most scenarios end well
before their timeout).

Starting the longest first shortens the whole run (the classic
longest-processing-time rule), but a dependency must end before its dependants
start. So the priority of a scenario is the longest expected path from it
through its dependants (its "bottom level"): a short scenario that a long chain
waits on starts before a long scenario that nothing waits on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sparkrig.scenario.model import Scenario

__all__ = ["TIMEOUT_FRACTION", "expected_durations", "priorities", "ordered"]

TIMEOUT_FRACTION = 0.25


def expected_durations(
    scenarios: Sequence[Scenario], history: Mapping[str, float]
) -> dict[str, float]:
    """Return the expected seconds of each scenario, by name."""
    expected: dict[str, float] = {}
    for scenario in scenarios:
        if scenario.name in history and history[scenario.name] > 0:
            expected[scenario.name] = history[scenario.name]
        elif scenario.estimated_time is not None:
            expected[scenario.name] = scenario.estimated_time
        else:
            expected[scenario.name] = scenario.timeout * TIMEOUT_FRACTION
    return expected


def priorities(scenarios: Sequence[Scenario], expected: Mapping[str, float]) -> dict[str, float]:
    """Return each scenario's bottom level: its expected time plus its longest dependant chain.

    Only dependencies inside `scenarios` count; the set must have no cycle.
    """
    names = {scenario.name for scenario in scenarios}
    dependants: dict[str, list[str]] = {name: [] for name in names}
    for scenario in scenarios:
        for dependency in scenario.depends_on:
            if dependency in names:
                dependants[dependency].append(scenario.name)

    levels: dict[str, float] = {}

    def level(name: str) -> float:
        if name not in levels:
            after = max((level(child) for child in dependants[name]), default=0.0)
            levels[name] = expected[name] + after
        return levels[name]

    for name in sorted(names):
        level(name)
    return levels


def ordered(scenarios: Sequence[Scenario], priority: Mapping[str, float]) -> list[Scenario]:
    """Sort by priority, highest first; ties by name, so the order is deterministic."""
    return sorted(scenarios, key=lambda scenario: (-priority[scenario.name], scenario.name))
