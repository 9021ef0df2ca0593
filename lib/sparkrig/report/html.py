"""report.html: one self-contained page for people, rendered with Jinja2.

The page has no external scripts, styles or fonts, so it works as a CI
artifact opened from disk. Autoescaping is on: whatever a scenario printed is
shown as text. Sections: a summary, failures first (reason, attempts, the tail
of the output, links to the log and diagnostics relative to the page). A
compact list of interrupted and not started scenarios follows, then a
timeline of the parallel run, and a table of all scenarios.

Size stays bounded: each failure shows at most `HTML_OUTPUT_CAP` of output,
only the first `FAILURE_DETAIL_LIMIT` failures show output at all, and table
rows carry no output. The table is filtered and sorted by a small inline
script that reads `#status=failed&tier=smoke&tag=x&q=text` from the URL.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkrig import __version__
from sparkrig.report.summary import (
    FAILING_STATUSES,
    RunSummary,
    assign_lanes,
    is_flaky,
    parse_time,
    relative_artifact,
    resolve_artifact,
    summarize,
)
from sparkrig.report.text import OutputCap, excerpt_of_text, read_head_tail
from sparkrig.results import RunResult, ScenarioResult, Status

if TYPE_CHECKING:
    import jinja2

__all__ = ["HTML_FILE", "HTML_OUTPUT_CAP", "FAILURE_DETAIL_LIMIT", "render_html", "write_html"]

logger = logging.getLogger(__name__)

HTML_FILE = "report.html"
HTML_OUTPUT_CAP = OutputCap(head_bytes=1024, tail_bytes=6 * 1024)
FAILURE_DETAIL_LIMIT = 200
DIAGNOSTIC_FILES_SHOWN = 20
TIMELINE_LANE_HEIGHT = 14
TIMELINE_WIDTH = 1000

# Failures first, then the statuses that need no action.
_STATUS_ORDER = {
    Status.FAILED: 0,
    Status.ERROR: 1,
    Status.TIMED_OUT: 2,
    Status.INTERRUPTED: 3,
    Status.PASSED: 4,
    Status.SKIPPED: 5,
}


@dataclass(frozen=True)
class TimelineBar:
    """One scenario on the timeline, in SVG user units (0 to TIMELINE_WIDTH wide)."""

    x: float
    y: int
    width: float
    status: str
    title: str


@cache
def _environment() -> jinja2.Environment:
    # Imported here: a run imports this module at start-up but renders HTML only at its end.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("sparkrig.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _clock(value: str | None) -> str:
    moment = parse_time(value)
    return moment.strftime("%H:%M:%S") if moment else ""


def _output_excerpt(result: ScenarioResult, run_dir: Path) -> str:
    log = resolve_artifact(run_dir, result.output_path)
    if log is not None and log.is_file():
        try:
            return read_head_tail(log, HTML_OUTPUT_CAP).render(result.output_path)
        except OSError as exc:
            logger.warning("cannot read output log %s of scenario %s: %s", log, result.name, exc)
    return excerpt_of_text(result.output_tail, HTML_OUTPUT_CAP).render(result.output_path)


def _diagnostic_files(result: ScenarioResult, run_dir: Path) -> tuple[list[str], int]:
    """Return the first diagnostics files as paths relative to the page, and how many exist."""
    folder = resolve_artifact(run_dir, result.diagnostics_path)
    if folder is None or not folder.is_dir():
        return [], 0
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    # `path` already starts with `run_dir`, which may be relative to the working directory.
    shown = [Path(os.path.relpath(path, run_dir)).as_posix()
             for path in files[:DIAGNOSTIC_FILES_SHOWN]]
    return shown, len(files)


def _failure(result: ScenarioResult, run_dir: Path, with_output: bool) -> dict[str, Any]:
    diagnostics, diagnostics_count = _diagnostic_files(result, run_dir)
    return {
        "result": result,
        "duration": _format_seconds(result.duration),
        "output": _output_excerpt(result, run_dir) if with_output else "",
        "output_link": relative_artifact(run_dir, result.output_path),
        "diagnostics_link": relative_artifact(run_dir, result.diagnostics_path),
        "diagnostics": diagnostics,
        "diagnostics_count": diagnostics_count,
    }


def _row(index: int, result: ScenarioResult, run_dir: Path) -> dict[str, Any]:
    return {
        "index": index,
        "result": result,
        "flaky": is_flaky(result),
        "duration": _format_seconds(result.duration),
        "started": _clock(result.started_at),
        "output_link": relative_artifact(run_dir, result.output_path),
    }


def _timeline(run: RunResult) -> dict[str, Any]:
    placed = assign_lanes(run)
    times: list[tuple[datetime, datetime]] = []
    for _, result in placed:
        start, end = parse_time(result.started_at), parse_time(result.ended_at)
        assert start is not None and end is not None  # assign_lanes keeps timed results only
        times.append((start, end))
    if not placed:
        return {"bars": [], "lanes": 0, "height": 0, "ticks": []}

    origin = min(start for start, _ in times)
    span = max((end - origin).total_seconds() for _, end in times) or 1.0
    scale = TIMELINE_WIDTH / span
    bars = []
    for (lane, result), (start, end) in zip(placed, times, strict=True):
        offset = (start - origin).total_seconds()
        length = max((end - start).total_seconds(), 0.0)
        bars.append(TimelineBar(
            x=round(offset * scale, 2),
            y=lane * TIMELINE_LANE_HEIGHT,
            width=round(max(length * scale - 1.0, 1.5), 2),  # a gap between neighbours
            status=result.status.value,
            title=f"{result.name} ({result.tier}): {result.status.value}, "
                  f"{_format_seconds(result.duration)}, from {_clock(result.started_at)}",
        ))
    lanes = max(lane for lane, _ in placed) + 1
    ticks = [{"percent": step * 20, "label": _format_seconds(span * step / 5)} for step in range(6)]
    return {"bars": bars, "lanes": lanes, "height": lanes * TIMELINE_LANE_HEIGHT, "ticks": ticks}


def _summary_cards(summary: RunSummary) -> list[dict[str, str]]:
    rate = summary.pass_rate
    cards = [
        {"label": "scenarios", "value": str(summary.total), "kind": "total"},
        {"label": "passed", "value": str(summary.counts[Status.PASSED]), "kind": "passed"},
        {"label": "failed", "value": str(summary.counts[Status.FAILED]), "kind": "failed"},
        {"label": "errors", "value": str(summary.counts[Status.ERROR]), "kind": "error"},
        {"label": "timed out", "value": str(summary.counts[Status.TIMED_OUT]),
         "kind": "timed_out"},
        {"label": "interrupted", "value": str(summary.counts[Status.INTERRUPTED]),
         "kind": "interrupted"},
        {"label": "skipped", "value": str(summary.counts[Status.SKIPPED]), "kind": "skipped"},
        {"label": "flaky", "value": str(summary.flaky), "kind": "flaky"},
        {"label": "pass rate", "value": "n/a" if rate is None else f"{rate:.1%}", "kind": "rate"},
        {"label": "wall time", "value": _format_seconds(summary.wall_seconds), "kind": "time"},
        {"label": "parallel peak / max",
         "value": f"{summary.peak_parallel} / {summary.max_parallel}", "kind": "time"},
    ]
    return [card for card in cards if card["value"] != "0" or card["kind"] in
            ("total", "passed", "failed")]


def render_html(run: RunResult, run_dir: Path) -> str:
    """Render the report page of `run`; artifact links are relative to `run_dir`."""
    summary = summarize(run)
    ordered = sorted(run.scenarios, key=lambda result: (_STATUS_ORDER[result.status], result.name))
    # Interrupted scenarios did not fail on their own, so they get a compact list, not cards.
    failing = [result for result in ordered
               if result.status in FAILING_STATUSES and result.status is not Status.INTERRUPTED]
    failures = [_failure(result, run_dir, index < FAILURE_DETAIL_LIMIT)
                for index, result in enumerate(failing)]
    interrupted = [{"result": result, "output_link": relative_artifact(run_dir, result.output_path)}
                   for result in ordered if result.status is Status.INTERRUPTED]
    flaky = [result for result in ordered if is_flaky(result)]
    rows = [_row(index, result, run_dir) for index, result in enumerate(run.scenarios)]

    verdict = summary.verdict
    context = {
        "run": run,
        "verdict": verdict,
        "summary": summary,
        "cards": _summary_cards(summary),
        "failures": failures,
        "interrupted": interrupted,
        "failure_detail_limit": FAILURE_DETAIL_LIMIT,
        "flaky": flaky,
        "rows": rows,
        "statuses": [status.value for status in Status],
        "tiers": sorted({result.tier for result in run.scenarios}),
        "tags": sorted({tag for result in run.scenarios for tag in result.tags}),
        "timeline": _timeline(run),
        "timeline_width": TIMELINE_WIDTH,
        "cluster": run.cluster.get("provider", ""),
        "generator_version": __version__,
    }
    return load_template().render(context)


def load_template() -> jinja2.Template:
    """Return the compiled page template; Jinja2 compiles it once per process."""
    return _environment().get_template("report.html.j2")


def write_html(run: RunResult, run_dir: Path) -> Path:
    """Write `run_dir/report.html` and return its path."""
    path = run_dir / HTML_FILE
    temporary = path.with_name(f".{HTML_FILE}.tmp")
    temporary.write_text(render_html(run, run_dir), encoding="utf-8")
    temporary.replace(path)
    return path
