"""`--shard i/N`: split the selected scenarios into N balanced, deterministic shards.

Scenarios linked by `depends_on` (inside the selection) form one group and stay
in one shard, so a dependency always runs in the same job as its dependants.
Groups are assigned greedily, longest total expected duration first, each to
the shard with the least expected time so far (ties to the lower shard number):
the longest-processing-time rule, which keeps the longest shard within 4/3 of
the optimum. Equal inputs give equal shards on every CI job, because the order
is fixed by duration and then by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sparkrig.errors import UsageError
from sparkrig.scenario.model import Scenario

__all__ = ["MAX_SHARDS", "parse_shard", "assign_shards", "select_shard", "validate_count"]

MAX_SHARDS = 256  # GitHub Actions allows at most 256 jobs per matrix


def validate_count(count: int, flag: str = "--count") -> int:
    if not 1 <= count <= MAX_SHARDS:
        raise UsageError(f"{flag} {count}: invalid shard count; expected 1 to {MAX_SHARDS}")
    return count


def parse_shard(text: str) -> tuple[int, int]:
    """Parse `i/N` (1-based) into (i, N)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise UsageError(f"--shard {text}: invalid shard; expected I/N such as 2/4")
    index, count = int(match.group(1)), int(match.group(2))
    validate_count(count, "--shard")
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text}: invalid shard; I must be between 1 and {count}")
    return index, count


def _groups(scenarios: Sequence[Scenario]) -> list[list[Scenario]]:
    """Split into connected groups of the dependency graph (union-find)."""
    parent = {scenario.name: scenario.name for scenario in scenarios}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for scenario in scenarios:
        for dependency in scenario.depends_on:
            if dependency in parent:
                parent[root(scenario.name)] = root(dependency)

    groups: dict[str, list[Scenario]] = {}
    for scenario in scenarios:
        groups.setdefault(root(scenario.name), []).append(scenario)
    return list(groups.values())


def assign_shards(
    scenarios: Sequence[Scenario], expected: Mapping[str, float], count: int
) -> list[list[Scenario]]:
    """Return `count` shards (lists of scenarios, each sorted by name)."""
    validate_count(count)
    groups = _groups(scenarios)
    weighted = [
        (sum(expected[scenario.name] for scenario in group), min(s.name for s in group), group)
        for group in groups
    ]
    weighted.sort(key=lambda item: (-item[0], item[1]))

    loads = [0.0] * count
    shards: list[list[Scenario]] = [[] for _ in range(count)]
    for weight, _, group in weighted:
        lightest = min(range(count), key=lambda index: (loads[index], index))
        loads[lightest] += weight
        shards[lightest].extend(group)
    return [sorted(shard, key=lambda scenario: scenario.name) for shard in shards]


def select_shard(
    scenarios: Sequence[Scenario], expected: Mapping[str, float], index: int, count: int
) -> list[Scenario]:
    """Return the scenarios of shard `index` (1-based) of `count`."""
    return assign_shards(scenarios, expected, count)[index - 1]
