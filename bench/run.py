"""Entry point of the benchmarks: `python bench/run.py [--quick]` (`invoke bench`).

Runs each measure in a temporary folder of its own (removed afterwards, also
on error or Ctrl-C), prints one Markdown table of the results and, in full
mode or with `--output`, writes it into docs/benchmarks.md between the
generated-block markers. A full run takes about seven minutes on 2 cores.
`--quick` uses smaller counts and two repeats, and finishes within a minute. It includes the
namespace lifecycle measure only when a local cluster is already running.

Everything runs on this machine: script scenarios that sleep, the peers
GNU parallel and `xargs -P`, and (for the lifecycle measure) the local
cluster's API server on loopback. Every child process has a time limit.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# `python bench/run.py` puts bench/ on sys.path; the modules import each other
# as the `bench` package, so the repository root has to be there instead.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.measure_memory import measure_memory  # noqa: E402 - needs the path above
from bench.measure_reports import measure_reports  # noqa: E402
from bench.measure_schedule import (  # noqa: E402
    measure_overhead,
    measure_skewed,
    sparkrig_unavailable_reason,
)
from bench.peers import compile_sparkrig  # noqa: E402
from bench.table import (  # noqa: E402
    Row,
    describe_machine,
    load_average,
    render_results,
    render_table,
    update_page,
)

logger = logging.getLogger("bench.run")

DEFAULT_PAGE = REPO_ROOT / "docs" / "benchmarks.md"

# Above this 1-minute load average per core, the numbers are noisy. The run still
# goes on, with a warning in the notes.
BUSY_LOAD_PER_CPU = 0.5

MEASURES = ("overhead", "skewed", "lifecycle", "reports", "memory")


@dataclass(frozen=True)
class Plan:
    """Counts and repeats of one mode."""

    repeats: int
    overhead_count: int
    skewed_count: int
    skewed_bound: float
    report_count: int
    memory_count: int
    lifecycle_levels: tuple[int, ...]
    lifecycle_leases: int
    lifecycle_repeats: int
    lifecycle_requires_running_cluster: bool


# Deleting a namespace on the local cluster takes about 5 s (measured with an empty
# namespace and `kubectl delete --wait`), so the lifecycle counts stay small. A
# level runs `lifecycle_leases` leases, rounded up to a multiple of its workers.
FULL = Plan(repeats=3, overhead_count=200, skewed_count=60, skewed_bound=12.0,
            report_count=10_000, memory_count=64, lifecycle_levels=(1, 4, 16),
            lifecycle_leases=4, lifecycle_repeats=3, lifecycle_requires_running_cluster=False)
QUICK = Plan(repeats=2, overhead_count=40, skewed_count=24, skewed_bound=2.0,
             report_count=1_000, memory_count=32, lifecycle_levels=(16,),
             lifecycle_leases=16, lifecycle_repeats=1, lifecycle_requires_running_cluster=True)

OVERHEAD_SECONDS = 0.2
OVERHEAD_PARALLELISM = 8
SKEWED_PARALLELISM = 4
MEMORY_PARALLELISM = 16
MEMORY_SECONDS = 0.5


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Measure sparkrig against GNU parallel, xargs -P and the lower bound.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smaller counts, within a minute; measures the namespace lifecycle "
                        "only on an already running local cluster")
    parser.add_argument("--only", action="append", choices=MEASURES, metavar="MEASURE",
                        help=f"run only this measure (repeatable): {', '.join(MEASURES)}")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per timed measure; the table shows median (min-max)")
    parser.add_argument("--output", type=Path, default=None,
                        help="Markdown page to write the results into "
                        "(default: docs/benchmarks.md in full mode, none with --quick)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each run's time")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plan = QUICK if args.quick else FULL
    repeats = args.repeats or plan.repeats
    selected = args.only or list(MEASURES)
    machine = describe_machine()
    notes: list[str] = []
    if os.getloadavg()[0] > BUSY_LOAD_PER_CPU * machine.cpus:
        notes.append(f"The machine was busy at the start (load {machine.load_before}): "
                     "expect noise in the timings.")

    compile_error = compile_sparkrig()
    if compile_error:
        notes.append(f"sparkrig's bytecode cache could not be written ({compile_error}); its "
                     "start-up includes compiling its modules.")
    sparkrig_reason = sparkrig_unavailable_reason()
    if sparkrig_reason and set(selected) & {"overhead", "skewed", "memory"}:
        notes.append(f"sparkrig was not measured: {sparkrig_reason}.")

    steps: dict[str, Callable[[Path], list[Row]]] = {
        "overhead": lambda work: _overhead(work, plan, repeats, sparkrig_reason, notes),
        "skewed": lambda work: _skewed(work, plan, repeats, sparkrig_reason, notes),
        "lifecycle": lambda work: _lifecycle(work, plan, args.repeats, notes),
        "reports": lambda work: [measure_reports(work, count=plan.report_count, repeats=repeats)],
        "memory": lambda work: [measure_memory(
            work, count=plan.memory_count, seconds=MEMORY_SECONDS,
            parallelism=MEMORY_PARALLELISM, sparkrig_reason=sparkrig_reason)],
    }
    rows: list[Row] = []
    for name in MEASURES:
        if name not in selected:
            continue
        print(f"bench: measuring {name} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix=f"sparkrig-bench-{name}-") as work:
            rows.extend(steps[name](Path(work)))

    machine = machine.__class__(**{**machine.__dict__, "load_after": load_average()})
    mode = "quick" if args.quick else "full"
    results = render_results(rows, machine, mode=mode, notes=notes)
    print(render_table(rows))
    for note in notes:
        print(f"- {note}")
    output = args.output
    if output is None and not args.quick:
        output = DEFAULT_PAGE
    if output is not None:
        update_page(output, results)
        print(f"bench: wrote {output}", file=sys.stderr)
    return 0


def _overhead(work: Path, plan: Plan, repeats: int, sparkrig_reason: str | None,
              notes: list[str]) -> list[Row]:
    row, note = measure_overhead(
        work, count=plan.overhead_count, seconds=OVERHEAD_SECONDS,
        parallelism=OVERHEAD_PARALLELISM, repeats=repeats, sparkrig_reason=sparkrig_reason)
    if note:
        notes.append(note)
    return [row]


def _skewed(work: Path, plan: Plan, repeats: int, sparkrig_reason: str | None,
            notes: list[str]) -> list[Row]:
    row, skewed_notes = measure_skewed(
        work, count=plan.skewed_count, target_bound=plan.skewed_bound,
        parallelism=SKEWED_PARALLELISM, repeats=repeats, sparkrig_reason=sparkrig_reason)
    notes.extend(skewed_notes)
    return [row]


def _lifecycle(work: Path, plan: Plan, repeats: int | None, notes: list[str]) -> list[Row]:
    from bench.measure_lifecycle import measure_lifecycle

    rows, skip_reason = measure_lifecycle(
        work, leases=plan.lifecycle_leases, parallelism_levels=plan.lifecycle_levels,
        repeats=repeats or plan.lifecycle_repeats,
        require_running=plan.lifecycle_requires_running_cluster)
    if skip_reason:
        notes.append(f"Namespace lifecycle skipped: {skip_reason}.")
    return rows


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
