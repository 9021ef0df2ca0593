"""The `sparkrig report` subcommand: regenerate reports, or merge shards into one run.

    sparkrig report                      regenerate the formats of <results-dir>/latest
    sparkrig report --run DIR            regenerate the formats of the run in DIR
    sparkrig report --merge A B [...]    join runs into a new run under <results-dir>

Exit codes: 0 when the reports were written (whatever the scenarios' status),
2 when an input is missing or invalid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sparkrig.report import load_run, write_reports
from sparkrig.report.merge import LATEST, merge_runs
from sparkrig.report.summary import summarize
from sparkrig.results import RunResult

__all__ = ["register"]

DEFAULT_RESULTS_DIR = "reports"
DUPLICATES_PRINTED = 20


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the `report` subcommand to the `sparkrig` parser."""
    parser = subparsers.add_parser(
        "report",
        help="write JSON, JUnit, HTML and Markdown reports, or merge shards into one run",
        description="Regenerate every report format from a run's results.json, or join the "
        "results of several shards or reruns into one new run.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--merge", metavar="DIR", nargs="+", action="extend", type=Path,
        help="run folder (or folder of run folders) to join; repeatable. A scenario in two "
        "inputs keeps the result of the later run",
    )
    source.add_argument(
        "--run", metavar="DIR", type=Path,
        help="run folder whose reports to regenerate (default: <results-dir>/latest)",
    )
    parser.add_argument(
        "--results-dir", metavar="DIR", type=Path, default=Path(DEFAULT_RESULTS_DIR),
        help="folder that gets the merged run, its `latest` link and the durations history "
        f"(default: {DEFAULT_RESULTS_DIR})",
    )
    parser.set_defaults(handler=run_report_command)


def _count(number: int, noun: str) -> str:
    """Return `number` with `noun` in the singular or plural ("1 run", "2 runs")."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _print_summary(action: str, run: RunResult, run_dir: Path) -> None:
    summary = summarize(run)
    print(f"{action} {run_dir}: {_count(summary.total, 'scenario')}, {summary.failing} failing, "
          f"{summary.flaky} flaky; open {run_dir / 'report.html'}")


def run_report_command(args: argparse.Namespace) -> int:
    if args.merge:
        outcome = merge_runs(args.merge, args.results_dir)
        for duplicate in outcome.duplicates[:DUPLICATES_PRINTED]:
            print(f"sparkrig: {duplicate.describe()}", file=sys.stderr)
        if len(outcome.duplicates) > DUPLICATES_PRINTED:
            more = len(outcome.duplicates) - DUPLICATES_PRINTED
            print(f"sparkrig: ... and {_count(more, 'more duplicate scenario')}, "
                  "each kept from the later run", file=sys.stderr)
        _print_summary(f"merged {_count(len(outcome.sources), 'run')} into",
                       outcome.run, outcome.run_dir)
        return 0

    run_dir: Path = args.run if args.run is not None else args.results_dir / LATEST
    if run_dir.is_file():
        run_dir = run_dir.parent
    run = load_run(run_dir)
    write_reports(run, run_dir)
    _print_summary("wrote reports to", run, run_dir)
    return 0
