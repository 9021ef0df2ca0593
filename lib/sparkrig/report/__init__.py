"""Reports of a run: results.json, junit.xml, report.html and summary.md.

`results.json` is the single source of truth: `write_reports` writes it and
generates the other formats from the same `RunResult`, so
`sparkrig report --run DIR` can regenerate them at any time. Scenario output
is read from each result's `output_path` (relative to the run folder), head
and tail only, so large logs stay out of memory.

The durations history (`history.py`) and shard merging (`merge.py`) build on
the same functions.

A run imports this package at start-up, for the durations history. So the
writers load on first use: `write_reports` and `prepare_reports` import them,
and the other names below load through the module `__getattr__` (PEP 562).
That keeps about 6 ms of imports out of the time before the first scenario.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkrig.report.history import load_expected_durations, update_history
from sparkrig.results import RunResult

if TYPE_CHECKING:
    from sparkrig.report.schema import ReportInputError, load_run

    REPORT_FILES: tuple[str, ...]

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

_LAZY_NAMES = {"ReportInputError": "sparkrig.report.schema", "load_run": "sparkrig.report.schema"}


def _report_files() -> tuple[str, ...]:
    from sparkrig.report.html import HTML_FILE
    from sparkrig.report.junit import JUNIT_FILE
    from sparkrig.report.markdown import MARKDOWN_FILE
    from sparkrig.report.schema import RESULTS_FILE

    return (RESULTS_FILE, JUNIT_FILE, HTML_FILE, MARKDOWN_FILE)


def __getattr__(name: str) -> Any:
    if name == "REPORT_FILES":
        return _report_files()
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def prepare_reports() -> None:
    """Import the libraries of the report writers and compile the HTML template.

    `write_reports` does the same on first use. The runner calls this once no
    scenario is left to start, so the work (about 70 ms on 2 cores) overlaps the
    last running scenarios instead of adding to the end of the run.
    """
    import junit_xml  # noqa: F401 - imported for its side effect: loaded for write_junit

    from sparkrig.report import markdown, summary  # noqa: F401 - loaded for write_reports
    from sparkrig.report.html import load_template

    load_template()


def write_reports(run: RunResult, run_dir: Path) -> None:
    """Write results.json, junit.xml, report.html and summary.md into `run_dir`.

    A scenario that passed after a failed attempt is marked flaky in all four.
    """
    from sparkrig.report.html import write_html
    from sparkrig.report.junit import write_junit
    from sparkrig.report.markdown import write_markdown
    from sparkrig.report.schema import write_results_json
    from sparkrig.report.summary import mark_flaky

    report_files = _report_files()
    run_dir.mkdir(parents=True, exist_ok=True)
    run = mark_flaky(run)

    def write_junit_and_html() -> None:
        write_junit(run, run_dir)
        write_html(run, run_dir)

    # JUnit XML and HTML take about two thirds of the time. A forked child writes
    # them while this process writes the other two (10,000 results on 2 cores:
    # 1.56 s in one process, 1.13 s in two). When the child fails, this process
    # writes them again, so any error is raised here.
    child = _start_child(write_junit_and_html)
    write_results_json(run, run_dir)
    write_markdown(run, run_dir, list(report_files))
    if child is None or not _child_succeeded(child):
        write_junit_and_html()
    logger.info("wrote %s to %s", ", ".join(report_files), run_dir)


def _start_child(target: Callable[[], None]) -> int | None:
    """Fork a process that runs `target` and exits 0, or 1 if it raised; None when unfit.

    A fork is skipped on one core, and when other threads run: a lock one of
    them holds at the fork would stay locked in the child.
    """
    if (os.cpu_count() or 1) < 2 or threading.active_count() > 1:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        logger.debug("cannot fork a report writer: %s", exc)
        return None
    if pid == 0:  # the child: never returns
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C now must not cost a report
            target()
            code = 0
        finally:
            os._exit(code)  # no atexit handlers, no flush of the parent's buffers
    return pid


def _child_succeeded(pid: int) -> bool:
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return True
    logger.debug("the report writer %d ended with status %#x; writing its reports here",
                 pid, status)
    return False
