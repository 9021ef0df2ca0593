"""Turn the run options into the list of scenarios to run, before any cluster is touched.

Loading validates every file (exit code 2 on the first problem); then the
selection filters apply in this order: tier, tag and name (`Selection`), the
scenarios of the latest run that need another run (`--rerun-failed`), and
last the shard (`--shard i/N`). So every shard job of a CI matrix splits the
same selection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sparkrig.errors import UsageError
from sparkrig.results import Status
from sparkrig.runner.layout import LatestRun, load_latest, needs_rerun
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
    # The message to print when there is nothing to run and no run folder is made.
    nothing_to_run: str = ""


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
    if not loaded:
        folder = options.scenarios_dir
        raise UsageError(
            f"--scenarios {folder}: no scenario files in {folder}; expected *.yaml scenarios "
            "or executable scripts with a # @meta header"
        )
    scenarios = select(loaded, options.selection)

    if options.rerun_failed:
        latest = load_latest(options.results_dir)
        rerun = _rerun_names(options, latest, loaded, scenarios)
        if not rerun:
            return Plan(scenarios=[], expected={}, loaded=len(loaded),
                        nothing_to_run=_nothing_to_rerun(latest))
        scenarios = [scenario for scenario in loaded if scenario.name in rerun]

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


def _rerun_names(
    options: RunOptions, latest: LatestRun, loaded: list[Scenario], selected: list[Scenario]
) -> set[str]:
    """Return the selected scenarios to run again, with the dependencies they need.

    A dependency that did not pass in the latest run is added even where the
    --tier, --tag or --scenario filters leave it out, so the dependant does not
    run without it. A dependency that passed counts as satisfied, as outside
    any selection.
    """
    by_name = {scenario.name: scenario for scenario in loaded}
    last = {result.name: result for result in latest.results}
    if last and not any(name in by_name for name in last):
        ran = f" (that run read {latest.scenarios_dir})" if latest.scenarios_dir else ""
        raise UsageError(
            f"--rerun-failed: none of the {len(last)} scenarios in {latest.path} is in "
            f"{options.scenarios_dir}{ran}; pass the --scenarios folder of that run, or run "
            "without --rerun-failed"
        )
    names = {
        scenario.name
        for scenario in selected
        if scenario.name in last and needs_rerun(last[scenario.name])
    }
    pending = list(names)
    while pending:
        for dependency in by_name[pending.pop()].depends_on:
            result = last.get(dependency)
            if dependency in names or result is None or not needs_rerun(result):
                continue
            names.add(dependency)
            pending.append(dependency)
    return names


def _nothing_to_rerun(latest: LatestRun) -> str:
    statuses = [Status(result.status) for result in latest.results]
    if all(status == Status.PASSED for status in statuses):
        return f"nothing to rerun: every scenario in {latest.path} passed"
    left = sum(1 for result in latest.results if needs_rerun(result))
    if left:
        return (
            f"nothing to rerun: {left} of the scenarios in {latest.path} did not pass, "
            "but none of them matches --tier, --tag or --scenario"
        )
    return (
        f"nothing to rerun: every scenario in {latest.path} passed or was skipped for a "
        "capability the cluster lacks"
    )
