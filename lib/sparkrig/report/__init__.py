"""Reports of a run: results.json, junit.xml, report.html and summary.md.

`results.json` is the single source of truth; every other format is generated
from the `RunResult` it holds, so `sparkrig report --run DIR` can regenerate
them all at any time.
"""

from __future__ import annotations

from pathlib import Path

from sparkrig.report.history import load_expected_durations, update_history
from sparkrig.results import RunResult, write_json_atomic

__all__ = ["write_reports", "load_expected_durations", "update_history"]


def write_reports(run: RunResult, run_dir: Path) -> None:
    """Write results.json, junit.xml, report.html and summary.md into `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "results.json", run.to_dict())
