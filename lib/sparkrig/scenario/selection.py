"""Select the scenarios of a run by tier, tag and name.

Each filter kind that is given must match: a scenario is selected when its tier
is one of `tiers`, it carries at least one of `tags`, and its name is one of
`names` (an empty filter matches everything). Dependencies of the selected
scenarios are not added: a dependency outside the selection counts as
satisfied, so `--scenario B` runs B alone even where B depends on A.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sparkrig.errors import UsageError
from sparkrig.scenario._fields import closest_name
from sparkrig.scenario.model import TIERS, Scenario

__all__ = ["Selection", "select"]


@dataclass(frozen=True)
class Selection:
    """The filters of a run, as given on the command line."""

    tiers: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    def validate(self) -> None:
        for tier in self.tiers:
            if tier not in TIERS:
                raise UsageError(
                    f"--tier {tier}: unknown tier; expected one of: {', '.join(TIERS)}"
                )

    def matches(self, scenario: Scenario) -> bool:
        if self.tiers and scenario.tier not in self.tiers:
            return False
        if self.tags and not set(self.tags) & set(scenario.tags):
            return False
        return not self.names or scenario.name in self.names


def select(scenarios: Sequence[Scenario], selection: Selection) -> list[Scenario]:
    """Return the selected scenarios in their given order.

    Raises `UsageError` for an unknown tier or a `--scenario` name that no file
    declares, with the closest known name as a hint.
    """
    selection.validate()
    _check_names(selection.names, (scenario.name for scenario in scenarios))
    return [scenario for scenario in scenarios if selection.matches(scenario)]


def _check_names(requested: Iterable[str], known: Iterable[str]) -> None:
    known_names = sorted(set(known))
    for name in requested:
        if name in known_names:
            continue
        close = closest_name(name, known_names)
        hint = f"; did you mean {close!r}?" if close else "; run 'sparkrig list' to see the names"
        raise UsageError(f"--scenario {name}: no scenario has this name{hint}")
