"""The two scheduling measures: scheduler overhead and skewed durations.

Both run the same script scenarios through sparkrig, GNU parallel and
`xargs -P`, each tool `repeats` times. The order of the tools rotates from one
repeat to the next, so a change in background load does not always hit the
same tool. Makespans are wall-clock seconds from starting the command to its
exit. They include each tool's start-up (Python imports, perl) and sparkrig's
report writing, which is what a user waits for.

- Overhead: equal `sleep` jobs; the ideal is `count * seconds / P`.
- Skewed: heavy-tailed (Pareto) durations, fed to the peers in the files'
  natural order (FIFO). sparkrig runs once first to seed its durations
  history, so the measured runs can order longest first. The reference is the
  lower bound `max(total / P, longest)`.
"""

from __future__ import annotations

import datetime
import json
import logging
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.peers import (
    BenchToolError,
    TimedRun,
    missing_peers,
    parallel_command,
    run_timed,
    sparkrig_command,
    write_file_list,
    xargs_command,
)
from bench.schedule import (
    Phases,
    Summary,
    list_schedule_makespan,
    longest_first,
    lower_bound,
    phases,
    ratio,
    summarize,
)
from bench.table import Row
from bench.workloads import constant_durations, pareto_durations, write_scenarios

__all__ = [
    "ToolCommand",
    "sparkrig_unavailable_reason",
    "measure_overhead",
    "measure_skewed",
    "OVERHEAD_GOAL",
    "SKEWED_GOAL",
]

logger = logging.getLogger(__name__)

SPARKRIG = "sparkrig"

# Goals, as ratios of makespan over the lower bound.
OVERHEAD_GOAL = 1.02
SKEWED_GOAL = 1.05


@dataclass(frozen=True)
class ToolCommand:
    """How to start one tool on a workload."""

    name: str
    command: list[str]
    stdin_path: Path | None = None
    results_dir: Path | None = None  # sparkrig's, to read each run's results.json


def sparkrig_unavailable_reason() -> str | None:
    """Return why `sparkrig run` cannot be benchmarked, or None when it can."""
    probe = subprocess.run(
        [sys.executable, "-m", "sparkrig", "run", "--help"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
    )
    if probe.returncode == 0 and "--cluster" in probe.stdout:
        return None
    detail = (probe.stderr.strip().splitlines() or ["no output"])[-1]
    return f"`sparkrig run` is not available ({detail})"


def _tool_commands(
    work: Path, scenarios: Path, paths: Sequence[Path], parallelism: int, sparkrig_ok: bool
) -> list[ToolCommand]:
    file_list = write_file_list(paths, work / "files.txt")
    tools: list[ToolCommand] = []
    if sparkrig_ok:
        results_dir = work / "results"
        command = sparkrig_command(scenarios, parallelism, results_dir)
        tools.append(ToolCommand(SPARKRIG, command, results_dir=results_dir))
    missing = missing_peers()
    if "GNU parallel" not in missing:
        tools.append(ToolCommand("GNU parallel", parallel_command(parallelism), file_list))
    if "xargs -P" not in missing:
        tools.append(ToolCommand("xargs -P", xargs_command(parallelism), file_list))
    return tools


def run_phases(results_dir: Path, timed: TimedRun, work: Mapping[str, float]) -> Phases:
    """Read the latest run's results.json and split the run into its phases."""
    data = json.loads((results_dir / "latest" / "results.json").read_text(encoding="utf-8"))
    scenarios = data["scenarios"]
    return phases(
        launched=timed.launched_at,
        exited=timed.exited_at,
        starts=[_epoch(item["started_at"]) for item in scenarios],
        ends=[_epoch(item["ended_at"]) for item in scenarios],
        recorded=[float(item["duration"]) for item in scenarios],
        work=[work[item["name"]] for item in scenarios],
    )


def _epoch(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def phases_note(label: str, runs: Sequence[Phases], bound: float) -> str:
    """Describe the median phases of sparkrig's measured runs in one sentence."""
    startup = statistics.median([run.startup for run in runs])
    schedule = statistics.median([run.schedule for run in runs])
    finish = statistics.median([run.finish for run in runs])
    per_job_ms = statistics.median([run.per_job for run in runs]) * 1000
    return (
        f"sparkrig's time in the {label} measure, median of {len(runs)} runs from its "
        f"results.json: start-up to the first scenario {startup:.2f} s, first start to last "
        f"end {schedule:.2f} s (lower bound {bound:.2f} s), last end to exit {finish:.2f} s. "
        f"Each scenario's recorded duration exceeded its sleep by {per_job_ms:.0f} ms on average."
    )


def time_tools(
    tools: Sequence[ToolCommand],
    *,
    work: Path,
    repeats: int,
    timeout: float,
    durations: Mapping[str, float] | None = None,
) -> tuple[dict[str, Summary | str], list[Phases]]:
    """Run every tool `repeats` times in rotating order.

    Returns a summary or an error per tool, and the phases of each sparkrig run
    when `durations` (seconds of work by scenario name) is given.
    """
    samples: dict[str, list[float]] = {tool.name: [] for tool in tools}
    errors: dict[str, str] = {}
    sparkrig_phases: list[Phases] = []
    for repeat in range(repeats):
        shift = repeat % max(len(tools), 1)
        for tool in [*tools[shift:], *tools[:shift]]:
            if tool.name in errors:
                continue
            log_path = work / f"{tool.name.replace(' ', '_')}-{repeat}.log"
            try:
                timed = run_timed(tool.command, log_path=log_path, timeout=timeout,
                                  stdin_path=tool.stdin_path, cwd=work, label=tool.name)
            except BenchToolError as exc:
                logger.error("%s", exc)
                errors[tool.name] = f"failed: {str(exc).splitlines()[0]}"
                continue
            logger.info("%s run %d: %.3f s", tool.name, repeat + 1, timed.seconds)
            samples[tool.name].append(timed.seconds)
            if tool.results_dir is not None and durations is not None:
                try:
                    sparkrig_phases.append(run_phases(tool.results_dir, timed, durations))
                except (OSError, KeyError, ValueError) as exc:
                    logger.warning("cannot read the phases of sparkrig run %d from %s: %s",
                                   repeat + 1, tool.results_dir, exc)
    results: dict[str, Summary | str] = {}
    for tool in tools:
        results[tool.name] = errors.get(tool.name) or summarize(samples[tool.name])
    return results, sparkrig_phases


def _cell(result: Summary | str | None) -> str:
    if result is None:
        return "not run"
    if isinstance(result, str):
        return result
    return result.format()


def _sparkrig_cell(result: Summary | str | None, reason: str | None) -> str:
    return f"not run: {reason}" if reason is not None else _cell(result)


def _ratio_cell(results: dict[str, Summary | str], bound: float) -> str:
    parts = []
    for name, result in results.items():
        if isinstance(result, Summary):
            parts.append(f"{name} {ratio(result.median, bound):.3f}")
    return ", ".join(parts) + " (median / bound)" if parts else "-"


def _peers_cell(results: dict[str, Summary | str], skipped: dict[str, str]) -> str:
    parts = [f"{name} {_cell(result)}" for name, result in results.items() if name != SPARKRIG]
    parts += [f"{name} not run: {reason}" for name, reason in skipped.items()]
    return "; ".join(parts) or "-"


def measure_overhead(
    work: Path,
    *,
    count: int,
    seconds: float,
    parallelism: int,
    repeats: int,
    sparkrig_reason: str | None,
) -> tuple[Row, str | None]:
    """Time `count` jobs of `sleep seconds` at `parallelism` through every tool.

    Returns the row and a note on sparkrig's phases (None when it did not run).
    """
    durations = constant_durations(count, seconds)
    scenarios = work / "scenarios"
    paths = write_scenarios(scenarios, durations, "bench-overhead")
    ideal = lower_bound(durations, parallelism)
    tools = _tool_commands(work, scenarios, paths, parallelism, sparkrig_reason is None)
    work_by_name = {path.stem: seconds for path, seconds in zip(paths, durations, strict=True)}
    results, runs = time_tools(tools, work=work, repeats=repeats, timeout=ideal * 10 + 60,
                               durations=work_by_name)

    sparkrig_result = results.get(SPARKRIG)
    goal = f"<= {OVERHEAD_GOAL} x ideal and <= xargs -P"
    if isinstance(sparkrig_result, Summary):
        xargs_result = results.get("xargs -P")
        met = sparkrig_result.median <= OVERHEAD_GOAL * ideal and (
            not isinstance(xargs_result, Summary) or sparkrig_result.median <= xargs_result.median
        )
        goal += ": met" if met else ": missed"
    row = Row(
        measure=f"scheduler overhead: {count} x sleep {seconds} s at {parallelism} at once",
        sparkrig=_sparkrig_cell(sparkrig_result, sparkrig_reason),
        peers=_peers_cell(results, missing_peers()),
        lower_bound=f"{ideal:.2f} s (ideal)",
        ratio=_ratio_cell(results, ideal),
        goal=goal,
    )
    return row, phases_note("overhead", runs, ideal) if runs else None


def skewed_workload(count: int, parallelism: int, target_bound: float) -> list[float]:
    return pareto_durations(count, parallelism=parallelism, target_bound=target_bound)


def measure_skewed(
    work: Path,
    *,
    count: int,
    target_bound: float,
    parallelism: int,
    repeats: int,
    sparkrig_reason: str | None,
) -> tuple[Row, list[str]]:
    """Time Pareto-distributed jobs at `parallelism`.

    Returns the row and notes: the simulated FIFO and longest-first makespans,
    and sparkrig's phases when it ran.
    """
    durations = skewed_workload(count, parallelism, target_bound)
    scenarios = work / "scenarios"
    paths = write_scenarios(scenarios, durations, "bench-skewed")
    bound = lower_bound(durations, parallelism)
    tools = _tool_commands(work, scenarios, paths, parallelism, sparkrig_reason is None)
    work_by_name = {path.stem: seconds for path, seconds in zip(paths, durations, strict=True)}
    timeout = sum(durations) + 120

    seed_error = None
    if sparkrig_reason is None:
        seed = tools[0]
        try:
            seeded = run_timed(seed.command, log_path=work / "sparkrig-seed.log", timeout=timeout,
                               cwd=work, label="sparkrig")
            logger.info("sparkrig seed run (no history): %.3f s", seeded.seconds)
        except BenchToolError as exc:
            seed_error = f"seed run failed: {str(exc).splitlines()[0]}"
            tools = tools[1:]
    results, runs = time_tools(tools, work=work, repeats=repeats, timeout=timeout,
                               durations=work_by_name)
    if seed_error:
        results[SPARKRIG] = seed_error

    sparkrig_result = results.get(SPARKRIG)
    goal = f"<= {SKEWED_GOAL} x bound"
    if isinstance(sparkrig_result, Summary):
        goal += ": met" if sparkrig_result.median <= SKEWED_GOAL * bound else ": missed"
    fifo = list_schedule_makespan(durations, parallelism)
    lpt = list_schedule_makespan(longest_first(durations), parallelism)
    row = Row(
        measure=(
            f"skewed durations: {count} Pareto jobs (total {sum(durations):.1f} s, "
            f"longest {max(durations):.2f} s) at {parallelism} at once, history seeded"
        ),
        sparkrig=_sparkrig_cell(sparkrig_result, sparkrig_reason),
        peers=_peers_cell(results, missing_peers()),
        lower_bound=f"{bound:.2f} s (max(total/P, longest))",
        ratio=_ratio_cell(results, bound),
        goal=goal,
    )
    notes = [
        f"Skewed workload, simulated with zero overhead: FIFO in file order {fifo:.2f} s, "
        f"longest first {lpt:.2f} s, lower bound {bound:.2f} s."
    ]
    if runs:
        notes.append(phases_note("skewed", runs, bound))
    return row, notes
