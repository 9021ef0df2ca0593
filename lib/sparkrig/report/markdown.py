"""summary.md: a short Markdown summary for `$GITHUB_STEP_SUMMARY`.

Totals, the failures with their reasons, flaky scenarios and the names of the
artifacts. GitHub limits a step summary to 1 MiB, so the failure list stops at
`MARKDOWN_FAILURE_LIMIT` entries and each reason at `REASON_LIMIT` characters.
Text from scenarios is escaped so a reason cannot break the table or inject
HTML.
"""

from __future__ import annotations

import re
from pathlib import Path

from sparkrig.report.summary import FAILING_STATUSES, is_flaky, summarize
from sparkrig.report.text import clean_text
from sparkrig.results import RunResult, Status

__all__ = ["MARKDOWN_FILE", "MARKDOWN_FAILURE_LIMIT", "render_markdown", "write_markdown"]

MARKDOWN_FILE = "summary.md"
MARKDOWN_FAILURE_LIMIT = 50
REASON_LIMIT = 300

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def escape_markdown(text: str, limit: int = REASON_LIMIT) -> str:
    """Flatten `text` to one line of at most `limit` characters with Markdown syntax escaped."""
    line = " ".join(clean_text(text).split())
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", line)


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}min"


def render_markdown(run: RunResult, artifacts: list[str]) -> str:
    """Render the Markdown summary of `run`; `artifacts` are file names in the run folder."""
    summary = summarize(run)
    verdict = {"interrupted": "⏹️ interrupted", "failed": "❌ failed",
               "passed": "✅ passed"}[summary.verdict]
    rate = "n/a" if summary.pass_rate is None else f"{summary.pass_rate:.1%}"
    lines = [
        f"## sparkrig run `{run.run_id}`: {verdict}",
        "",
        "| scenarios | passed | failed | errors | timed out | interrupted | skipped | flaky "
        "| pass rate | wall time | parallel (peak / max) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {summary.total} | {summary.counts[Status.PASSED]} | {summary.counts[Status.FAILED]} "
        f"| {summary.counts[Status.ERROR]} | {summary.counts[Status.TIMED_OUT]} "
        f"| {summary.counts[Status.INTERRUPTED]} | {summary.counts[Status.SKIPPED]} "
        f"| {summary.flaky} | {rate} | {_seconds(summary.wall_seconds)} "
        f"| {summary.peak_parallel} / {summary.max_parallel} |",
        "",
    ]
    if summary.counts[Status.INTERRUPTED]:
        lines += [f"The run was interrupted: {summary.interrupted_running} stopped "
                  f"while running, {summary.not_started} not started.", ""]

    failing = sorted((result for result in run.scenarios
                      if result.status in FAILING_STATUSES - {Status.INTERRUPTED}),
                     key=lambda result: (result.tier, result.name))
    interrupted = [result for result in run.scenarios if result.status is Status.INTERRUPTED]
    if failing:
        lines += [f"### Failures ({len(failing)})", "",
                  "| scenario | tier | status | attempts | reason |",
                  "| --- | --- | --- | ---: | --- |"]
        for result in failing[:MARKDOWN_FAILURE_LIMIT]:
            lines.append(
                f"| {escape_markdown(result.name, 120)} | {escape_markdown(result.tier, 40)} "
                f"| {result.status.value} | {len(result.attempts)} "
                f"| {escape_markdown(result.reason) or 'no reason given'} |"
            )
        if len(failing) > MARKDOWN_FAILURE_LIMIT:
            lines.append("")
            lines.append(f"… and {len(failing) - MARKDOWN_FAILURE_LIMIT} more failures: "
                         "see report.html or junit.xml.")
        lines.append("")

    if interrupted:
        names = ", ".join(
            escape_markdown(result.name, 120) + ("" if result.attempts else " (not started)")
            for result in interrupted[:MARKDOWN_FAILURE_LIMIT]
        )
        more = f" and {len(interrupted) - MARKDOWN_FAILURE_LIMIT} more" \
            if len(interrupted) > MARKDOWN_FAILURE_LIMIT else ""
        lines += [f"### Interrupted ({len(interrupted)})", "", f"{names}{more}.", ""]

    flaky = [result for result in run.scenarios if is_flaky(result)]
    if flaky:
        names = ", ".join(escape_markdown(result.name, 120)
                          for result in flaky[:MARKDOWN_FAILURE_LIMIT])
        more = f" and {len(flaky) - MARKDOWN_FAILURE_LIMIT} more" \
            if len(flaky) > MARKDOWN_FAILURE_LIMIT else ""
        lines += [f"### Flaky ({len(flaky)})", "",
                  f"Passed only after a failed attempt: {names}{more}.", ""]

    if run.merged_from:
        sources = ", ".join(escape_markdown(str(source.get("run_id", "")), 80)
                            for source in run.merged_from)
        lines += [f"Merged from {len(run.merged_from)} runs: {sources}.", ""]

    lines += ["### Artifacts", ""]
    lines += [f"- `{name}`" for name in artifacts]
    lines.append("- `scenarios/<name>/`: each scenario's output.log and diagnostics")
    lines.append("")
    return "\n".join(lines)


def write_markdown(run: RunResult, run_dir: Path, artifacts: list[str]) -> Path:
    """Write `run_dir/summary.md` and return its path."""
    path = run_dir / MARKDOWN_FILE
    temporary = path.with_name(f".{MARKDOWN_FILE}.tmp")
    temporary.write_text(render_markdown(run, artifacts), encoding="utf-8")
    temporary.replace(path)
    return path
