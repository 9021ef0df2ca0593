"""Turn the run options into the list of scenarios to run, before any cluster is touched.

Loading validates every file (exit code 2 on the first problem); then the
selection filters apply in this order: tier, tag and name (`Selection`), the
failed scenarios of the latest run (`--rerun-failed`), and last the shard
(`--shard i/N`), so every shard job of a CI matrix splits the same selection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sparkrig.errors import UsageError
from sparkrig.runner.layout import failed_in_latest
from sparkrig.scenario.loader import load_scenarios
from sparkrig.scenario.model import Scenario
from sparkrig.scenario.selection import Selection, select
from sparkrig.scheduler.ordering import expected_durations
from sparkrig.scheduler.sharding import select_shard

__all__ = ["RunOptions", "Plan", "plan_run", "load_history"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """The validated options of `sparkrig run`."""

    scenarios_dir: Path
    results_dir: Path
    selection: Selection = Selection()
    max_parallel: int = 4
    cluster: str = "auto"
    shard: tuple[int, int] | None = None
    retries: int = 0
    fail_fast: bool = False
    keep_on_failure: bool = False
    rerun_failed: bool = False


@dataclass(frozen=True)
class Plan:
    """The scenarios a run will execute and their expected durations."""

    scenarios: list[Scenario]
    expected: dict[str, float]
    loaded: int


def load_history(results_dir: Path) -> dict[str, float]:
    """Return expected durations from earlier runs; an unreadable history is ignored."""
    try:
        from sparkrig.report.history import load_expected_durations
    except ImportError:
        return {}
    try:
        return load_expected_durations(results_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring the durations history in %s: %s", results_dir, exc)
        return {}


def plan_run(options: RunOptions) -> Plan:
    loaded = load_scenarios(options.scenarios_dir)
    scenarios = select(loaded, options.selection)

    if options.rerun_failed:
        failed = set(failed_in_latest(options.results_dir))
        scenarios = [scenario for scenario in scenarios if scenario.name in failed]

    expected = expected_durations(scenarios, load_history(options.results_dir))
    if options.shard is not None:
        index, count = options.shard
        scenarios = select_shard(scenarios, expected, index, count)
        expected = {scenario.name: expected[scenario.name] for scenario in scenarios}

    if options.cluster == "none":
        with_steps = [scenario.name for scenario in scenarios if not scenario.is_script]
        if with_steps:
            raise UsageError(
                f"--cluster none: YAML scenarios need a cluster ({', '.join(with_steps[:5])}"
                f"{', ...' if len(with_steps) > 5 else ''}); choose a cluster or select "
                "script scenarios only"
            )
    return Plan(scenarios=scenarios, expected=expected, loaded=len(loaded))
