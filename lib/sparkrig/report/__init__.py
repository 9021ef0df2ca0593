"""Reports of a run: results.json, junit.xml, report.html and summary.md.

`results.json` is the single source of truth: `write_reports` writes it and
generates the other formats from the same `RunResult`, so
`sparkrig report --run DIR` can regenerate them at any time. Scenario output
is read from each result's `output_path` (relative to the run folder), head
and tail only, so large logs stay out of memory.

The durations history (`history.py`) and shard merging (`merge.py`) build on
the same functions.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sparkrig.report.history import load_expected_durations, update_history
from sparkrig.report.html import HTML_FILE, load_template, write_html
from sparkrig.report.junit import JUNIT_FILE, write_junit
from sparkrig.report.markdown import MARKDOWN_FILE, write_markdown
from sparkrig.report.schema import RESULTS_FILE, ReportInputError, load_run, write_results_json
from sparkrig.report.summary import mark_flaky
from sparkrig.results import RunResult

__all__ = [
    "REPORT_FILES",
    "ReportInputError",
    "prepare_reports",
    "write_reports",
    "load_run",
    "load_expected_durations",
    "update_history",
]

logger = logging.getLogger(__name__)

REPORT_FILES = (RESULTS_FILE, JUNIT_FILE, HTML_FILE, MARKDOWN_FILE)


def prepare_reports() -> None:
    """Import the libraries of the report writers and compile the HTML template.

    `write_reports` does the same on first use. The runner calls this once no
    scenario is left to start, so the work (about 70 ms on 2 cores) overlaps the
    last running scenarios instead of adding to the end of the run.
    """
    import junit_xml  # noqa: F401 - imported for its side effect: loaded for write_junit

    load_template()


def write_reports(run: RunResult, run_dir: Path) -> None:
    """Write results.json, junit.xml, report.html and summary.md into `run_dir`.

    A scenario that passed after a failed attempt is marked flaky in all four.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    run = mark_flaky(run)
    write_results_json(run, run_dir)
    write_junit(run, run_dir)
    write_html(run, run_dir)
    write_markdown(run, run_dir, list(REPORT_FILES))
    logger.info("wrote %s to %s", ", ".join(REPORT_FILES), run_dir)
