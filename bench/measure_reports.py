"""Report writing at scale: a synthetic run of many results through `write_reports`.

`sparkrig.report.write_reports` writes every format the package has (JSON,
JUnit XML, HTML, Markdown summary) from one `RunResult`. The reference is a
bare `json.dump` of the same run's dictionary, the least any writer of
results.json has to do, so the ratio shows what the other formats and the
atomic write cost on top.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from bench.schedule import ratio, summarize
from bench.table import Row
from bench.workloads import synthetic_run

__all__ = ["measure_reports"]


def measure_reports(work: Path, *, count: int, repeats: int) -> Row:
    """Time `write_reports` on `count` synthetic results and list the file sizes."""
    from sparkrig.report import prepare_reports, write_reports  # here: other measures need neither

    # Load the writers' libraries and template first, as a run does while its last
    # scenarios run, so the timings hold the writing alone.
    prepare_reports()
    run = synthetic_run(count)
    write_samples: list[float] = []
    dump_samples: list[float] = []
    sizes: dict[str, int] = {}
    for repeat in range(repeats):
        run_dir = work / f"run-{repeat}"
        started = time.perf_counter()
        write_reports(run, run_dir)
        write_samples.append(time.perf_counter() - started)
        sizes = {
            path.relative_to(run_dir).as_posix(): path.stat().st_size
            for path in sorted(run_dir.rglob("*")) if path.is_file()
        }
        shutil.rmtree(run_dir)

        started = time.perf_counter()
        with (work / "plain.json").open("w", encoding="utf-8") as handle:
            json.dump(run.to_dict(), handle, indent=2)
        dump_samples.append(time.perf_counter() - started)

    written = summarize(write_samples)
    reference = summarize(dump_samples)
    files = ", ".join(f"{name} {_size(size)}" for name, size in sizes.items()) or "no files"
    return Row(
        measure=f"reports: {count:,} results through write_reports ({files})",
        sparkrig=written.format(),
        peers="-",
        lower_bound=f"json.dump alone {reference.format()}",
        ratio=f"{ratio(written.median, reference.median):.2f} (write_reports / json.dump)",
    )


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MiB"
    return f"{size / 1024:.0f} KiB"
