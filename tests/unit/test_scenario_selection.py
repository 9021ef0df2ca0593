"""Selecting scenarios by tier, tag and name."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkrig.errors import UsageError
from sparkrig.scenario.model import Scenario
from sparkrig.scenario.selection import Selection, select

SCENARIOS = [
    Scenario(name="lint", tier="smoke", source=Path("a"), tags=("fast",)),
    Scenario(
        name="connect", tier="smoke", source=Path("b"), tags=("connect",), depends_on=("lint",)
    ),
    Scenario(name="soak", tier="load", source=Path("c"), tags=("slow", "connect")),
    Scenario(name="psa", tier="security", source=Path("d")),
]


def names(selection: Selection) -> list[str]:
    return [scenario.name for scenario in select(SCENARIOS, selection)]


def test_empty_selection_takes_all() -> None:
    assert names(Selection()) == ["lint", "connect", "soak", "psa"]


def test_tier_filter() -> None:
    assert names(Selection(tiers=("smoke", "security"))) == ["lint", "connect", "psa"]


def test_tag_filter_matches_any_tag() -> None:
    assert names(Selection(tags=("connect", "fast"))) == ["lint", "connect", "soak"]


def test_filters_combine_by_and() -> None:
    assert names(Selection(tiers=("load",), tags=("connect",))) == ["soak"]


def test_dependencies_not_pulled_in() -> None:
    assert names(Selection(names=("connect",))) == ["connect"]


def test_unknown_tier_is_usage_error() -> None:
    with pytest.raises(UsageError, match="--tier nightly: unknown tier"):
        select(SCENARIOS, Selection(tiers=("nightly",)))


def test_unknown_name_suggests_close_one() -> None:
    with pytest.raises(UsageError, match="did you mean 'connect'"):
        select(SCENARIOS, Selection(names=("conect",)))
