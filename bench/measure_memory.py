"""Peak memory of each scheduler while it runs many jobs at once.

Each tool runs `count` sleep jobs at `parallelism` while `bench.rss` polls its
process tree from /proc (not `getrusage`, whose child figure is the largest
single process). The table shows the peak of the summed RSS of the
scheduler's own processes (the runner and its workers, perl, xargs),
excluding the `sh` and `sleep` jobs, so the tools compare on what they add.
The peak PSS sum follows in brackets: forked workers share most of their
pages with the runner, and PSS counts each shared page once in total.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bench.peers import (
    BenchToolError,
    missing_peers,
    parallel_command,
    run_timed,
    sparkrig_command,
    write_file_list,
    xargs_command,
)
from bench.rss import TreePeak
from bench.schedule import ratio
from bench.table import Row
from bench.workloads import constant_durations, write_scenarios

__all__ = ["measure_memory"]

logger = logging.getLogger(__name__)

MIB = 1024 * 1024


def measure_memory(
    work: Path, *, count: int, seconds: float, parallelism: int, sparkrig_reason: str | None
) -> Row:
    """Run `count` sleep jobs at `parallelism` through each tool and report peak RSS and PSS."""
    durations = constant_durations(count, seconds)
    scenarios = work / "scenarios"
    paths = write_scenarios(scenarios, durations, "bench-memory")
    file_list = write_file_list(paths, work / "files.txt")
    timeout = sum(durations) + 120

    commands: dict[str, tuple[list[str], Path | None]] = {}
    if sparkrig_reason is None:
        commands["sparkrig"] = (sparkrig_command(scenarios, parallelism, work / "results"), None)
    missing = missing_peers()
    if "GNU parallel" not in missing:
        commands["GNU parallel"] = (parallel_command(parallelism), file_list)
    if "xargs -P" not in missing:
        commands["xargs -P"] = (xargs_command(parallelism), file_list)

    peaks: dict[str, TreePeak | str] = {}
    for name, (command, stdin_path) in commands.items():
        log_path = work / f"{name.replace(' ', '_')}.log"
        try:
            timed = run_timed(command, log_path=log_path, timeout=timeout, stdin_path=stdin_path,
                              cwd=work, sample_memory=True, label=name)
        except BenchToolError as exc:
            logger.error("%s", exc)
            peaks[name] = f"failed: {str(exc).splitlines()[0]}"
            continue
        assert timed.peak is not None
        peaks[name] = timed.peak
        logger.info("%s peak scheduler RSS %.1f MiB, PSS %.1f MiB over %d samples", name,
                    timed.peak.scheduler_bytes / MIB, timed.peak.scheduler_pss_bytes / MIB,
                    timed.peak.samples)

    sparkrig_peak = peaks.get("sparkrig")
    peers = "; ".join(
        f"{name} {_peak_cell(peak)}" for name, peak in peaks.items() if name != "sparkrig"
    )
    ratios: list[str] = []
    for name, peak in peaks.items():
        if name == "sparkrig" or not isinstance(peak, TreePeak):
            continue
        if not isinstance(sparkrig_peak, TreePeak) or not peak.scheduler_pss_bytes:
            continue
        rss_ratio = ratio(sparkrig_peak.scheduler_bytes, peak.scheduler_bytes)
        pss_ratio = ratio(sparkrig_peak.scheduler_pss_bytes, peak.scheduler_pss_bytes)
        ratios.append(f"sparkrig / {name}: RSS {rss_ratio:.1f}, PSS {pss_ratio:.1f}")
    if sparkrig_reason is not None:
        sparkrig_cell = f"not run: {sparkrig_reason}"
    elif sparkrig_peak is None:
        sparkrig_cell = "not run"
    else:
        sparkrig_cell = _peak_cell(sparkrig_peak)
    return Row(
        measure=(
            f"memory: peak RSS and PSS sums of the scheduler's processes, {count} x sleep "
            f"{seconds} s at {parallelism} at once (/proc polling every 50 ms, jobs excluded)"
        ),
        sparkrig=sparkrig_cell,
        peers=peers or "-",
        lower_bound="-",
        ratio=", ".join(ratios) or "-",
    )


def _peak_cell(peak: TreePeak | str) -> str:
    if isinstance(peak, str):
        return peak
    return (
        f"{peak.scheduler_bytes / MIB:.1f} MiB RSS (PSS {peak.scheduler_pss_bytes / MIB:.1f} MiB) "
        f"in up to {peak.scheduler_processes} processes"
    )
