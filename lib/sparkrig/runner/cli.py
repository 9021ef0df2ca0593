"""The `run`, `list` and `shards` subcommands.

Every flag is validated before a scenario file is read or a cluster is
contacted; an invalid value ends the command with exit code 2 and a message
naming the flag, the value and the fix.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from sparkrig.cluster.base import CLUSTER_CHOICES, ClusterInfo
from sparkrig.errors import InfrastructureError, SparkrigError, UsageError
from sparkrig.runner.plan import RunOptions, load_history, plan_run
from sparkrig.runner.progress import make_progress, plural
from sparkrig.scenario.loader import load_scenarios
from sparkrig.scenario.quantities import format_duration
from sparkrig.scenario.selection import Selection, select
from sparkrig.scheduler.ordering import expected_durations
from sparkrig.scheduler.sharding import MAX_SHARDS, assign_shards, parse_shard, validate_count

__all__ = ["register", "resolve_max_parallel"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PARALLEL = 4
MAX_PARALLEL_LIMIT = 256  # far above what one machine or cluster runs at once; catches typos
MAX_RETRIES = 10
LIST_WIDTH_OFF_TERMINAL = 200


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add `run`, `list` and `shards` to the `sparkrig` parser."""
    run = subparsers.add_parser(
        "run",
        help="run scenarios in parallel, each in its own namespace and Helm release",
        description="Run scenarios in parallel, each in its own namespace and Helm release.",
    )
    _selection_flags(run)
    run.add_argument("--max", metavar="N", help="scenarios at once (default: MAX_PARALLEL, else 4)")
    run.add_argument("--shard", metavar="I/N", help="run shard I of N (1-based), e.g. 2/4")
    run.add_argument(
        "--retries",
        metavar="N",
        default="0",
        help="retries of a scenario after an infrastructure error (default 0)",
    )
    run.add_argument(
        "--fail-fast", action="store_true", help="start no new scenario after the first failure"
    )
    run.add_argument(
        "--keep-on-failure",
        action="store_true",
        help="keep the namespaces of failed scenarios for debugging",
    )
    run.add_argument(
        "--rerun-failed",
        action="store_true",
        help="run only the scenarios that did not pass in <results-dir>/latest, "
        "with the failed dependencies they need",
    )
    run.add_argument(
        "--cluster",
        default="auto",
        metavar="NAME",
        help=f"cluster: {', '.join(CLUSTER_CHOICES)} (default auto; none runs "
        "script scenarios without a cluster)",
    )
    run.add_argument(
        "--results-dir",
        default="reports",
        metavar="DIR",
        help="where <run_id>/ and latest go (default: reports)",
    )
    run.set_defaults(handler=run_command)

    listing = subparsers.add_parser("list", help="list scenarios with tier, tags and duration")
    _selection_flags(listing)
    listing.add_argument(
        "--results-dir",
        default="reports",
        metavar="DIR",
        help="where the durations history is read (default: reports)",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(handler=list_command)

    shards = subparsers.add_parser("shards", help="print the shard matrix for a CI job as JSON")
    shards.add_argument(
        "--count", required=True, metavar="N", help=f"number of shards, 1 to {MAX_SHARDS}"
    )
    shards.add_argument(
        "--tier",
        action="append",
        default=[],
        metavar="TIER",
        help="validate only this tier's scenarios (repeatable)",
    )
    shards.add_argument(
        "--scenarios",
        default="scenarios",
        metavar="DIR",
        help="folder of scenario files to validate (default: scenarios)",
    )
    shards.add_argument(
        "--results-dir",
        default="reports",
        metavar="DIR",
        help="where the durations history is read, as the shard jobs read it (default: reports)",
    )
    shards.set_defaults(handler=shards_command)


def _selection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tier",
        action="append",
        default=[],
        metavar="TIER",
        help="only this tier: smoke, e2e, load, security (repeatable)",
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only scenarios with this tag (repeatable: any of them)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="only this scenario, by name (repeatable)",
    )
    parser.add_argument(
        "--scenarios",
        default="scenarios",
        metavar="DIR",
        help="folder of scenario files (default: scenarios)",
    )


# --- validation -------------------------------------------------------------


def _whole_number(flag: str, text: str, *, minimum: int, maximum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(
            f"{flag} {text}: invalid value; expected a whole number from {minimum} to {maximum}"
        ) from None
    if not minimum <= value <= maximum:
        raise UsageError(f"{flag} {text}: out of range; expected {minimum} to {maximum}")
    return value


def resolve_max_parallel(flag: str | None, environ: dict[str, str] | None = None) -> int:
    """Return --max, else MAX_PARALLEL from the environment, else the default of 4."""
    env = os.environ if environ is None else environ
    if flag is not None:
        return _whole_number("--max", flag, minimum=1, maximum=MAX_PARALLEL_LIMIT)
    if env.get("MAX_PARALLEL", "").strip():
        return _whole_number(
            "MAX_PARALLEL", env["MAX_PARALLEL"].strip(), minimum=1, maximum=MAX_PARALLEL_LIMIT
        )
    return DEFAULT_MAX_PARALLEL


def _selection(args: argparse.Namespace) -> Selection:
    selection = Selection(tiers=tuple(args.tier), tags=tuple(args.tag), names=tuple(args.scenario))
    selection.validate()
    return selection


def _run_options(args: argparse.Namespace) -> RunOptions:
    if args.cluster not in CLUSTER_CHOICES:
        raise UsageError(
            f"--cluster {args.cluster}: unknown cluster; expected one of: "
            f"{', '.join(CLUSTER_CHOICES)}"
        )
    results_dir = Path(args.results_dir)
    _check_results_dir(results_dir)
    return RunOptions(
        scenarios_dir=Path(args.scenarios),
        results_dir=results_dir,
        selection=_selection(args),
        max_parallel=resolve_max_parallel(args.max),
        cluster=args.cluster,
        shard=parse_shard(args.shard) if args.shard is not None else None,
        retries=_whole_number("--retries", args.retries, minimum=0, maximum=MAX_RETRIES),
        fail_fast=args.fail_fast,
        keep_on_failure=args.keep_on_failure,
        rerun_failed=args.rerun_failed,
    )


def _check_results_dir(results_dir: Path) -> None:
    """Reject a --results-dir that cannot become a writable folder, without creating it.

    The nearest part of the path that exists must be a folder this user can write
    to. The folder itself is created only after the scenario files validated.
    """
    existing = results_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(
            f"--results-dir {results_dir}: {existing} is not a folder "
            f"({os.strerror(errno.ENOTDIR)}); give a folder path"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            f"--results-dir {results_dir}: {existing} is not writable "
            f"({os.strerror(errno.EACCES)}); give a folder you can write to"
        )


def _make_results_dir(results_dir: Path) -> None:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--results-dir {results_dir}: cannot create the folder ({exc.strerror or exc}); "
            "give a folder you can write to"
        ) from exc


# --- handlers ---------------------------------------------------------------


def _connect(name: str) -> ClusterInfo:
    try:
        from sparkrig.cluster import get_provider
    except ImportError as exc:
        raise InfrastructureError(
            f"--cluster {name}: the cluster providers cannot be imported ({exc})"
        ) from exc
    cluster: ClusterInfo = get_provider(name).connect()
    if cluster.tools_path is not None:
        # Scenario commands call helm and kubectl; the versions built for this cluster go first.
        os.environ["PATH"] = f"{cluster.tools_path}{os.pathsep}{os.environ.get('PATH', '')}"
    return cluster


def run_command(args: argparse.Namespace) -> int:
    from sparkrig.runner.orchestrator import Runner

    options = _run_options(args)
    plan = plan_run(options)
    if plan.nothing_to_run:
        print(f"sparkrig: {plan.nothing_to_run}", file=sys.stderr)
        return 0
    _make_results_dir(options.results_dir)
    cluster = None
    if options.cluster != "none" and plan.scenarios:
        cluster = _connect(options.cluster)
    if not plan.scenarios:
        print(f"sparkrig: {_why_nothing_selected(options, plan.loaded)}; nothing to run "
              "(latest is not moved)", file=sys.stderr)
    runner = Runner(options, plan, cluster, make_progress())
    try:
        return runner.run()
    except SparkrigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug in the runner: one line, not a traceback
        logger.debug("the run raised", exc_info=True)
        raise InfrastructureError(
            f"run {runner.run_id} stopped by an internal error: {type(exc).__name__}: {exc}; "
            f"results in {runner.run_dir} (run with -vv for the traceback)"
        ) from exc


def _why_nothing_selected(options: RunOptions, loaded: int) -> str:
    """Name the filters that left no scenario of the `loaded` ones."""
    selection = options.selection
    filters = [f"--tier {tier}" for tier in selection.tiers]
    filters += [f"--tag {tag}" for tag in selection.tags]
    filters += [f"--scenario {name}" for name in selection.names]
    if options.rerun_failed:
        filters.append("--rerun-failed")
    if options.shard is not None:
        filters.append(f"--shard {options.shard[0]}/{options.shard[1]}")
    noun = "scenario" if loaded == 1 else "scenarios"
    return (
        f"no scenario selected: none of the {loaded} {noun} in {options.scenarios_dir} "
        f"matches {' '.join(filters) or 'the selection'}"
    )


def list_command(args: argparse.Namespace) -> int:
    scenarios = select(load_scenarios(Path(args.scenarios)), _selection(args))
    expected = expected_durations(scenarios, load_history(Path(args.results_dir)))
    rows: list[dict[str, Any]] = [
        {
            "name": scenario.name,
            "tier": scenario.tier,
            "tags": list(scenario.tags),
            "expected_seconds": round(expected[scenario.name], 3),
            "timeout_seconds": scenario.timeout,
            "requires": list(scenario.requires),
            "depends_on": list(scenario.depends_on),
            "kind": "script" if scenario.is_script else "yaml",
            "source": str(scenario.source),
        }
        for scenario in scenarios
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{plural(len(rows), 'scenario')} in {args.scenarios}")
    for column in ("name", "tier", "tags", "expected", "requires", "depends on"):
        table.add_column(
            column, justify="right" if column == "expected" else "left", no_wrap=column == "name"
        )
    for row in rows:
        table.add_row(
            row["name"],
            row["tier"],
            ", ".join(row["tags"]),
            format_duration(row["expected_seconds"]),
            ", ".join(row["requires"]),
            ", ".join(row["depends_on"]),
        )
    # Off a terminal rich assumes 80 columns; a pipe or CI log gets every column unwrapped.
    Console(width=None if sys.stdout.isatty() else LIST_WIDTH_OFF_TERMINAL).print(table)
    return 0


def shards_command(args: argparse.Namespace) -> int:
    """Print the matrix of the shards that get scenarios; shard 1 alone when none do."""
    count = validate_count(_whole_number("--count", args.count, minimum=1, maximum=MAX_SHARDS))
    selection = Selection(tiers=tuple(args.tier))
    scenarios = select(load_scenarios(Path(args.scenarios)), selection)  # validates them
    # The same split as `run --shard I/N` makes from the same files and history. A shard
    # that gets nothing (dependency groups stay whole) would only start a cluster.
    expected = expected_durations(scenarios, load_history(Path(args.results_dir)))
    shards = assign_shards(scenarios, expected, count)
    used = [index for index, shard in enumerate(shards, start=1) if shard] or [1]
    print(json.dumps({"include": [{"shard": f"{index}/{count}"} for index in used]}))
    return 0
