"""summary.md: totals, failures with reasons, artifacts, escaping."""

from __future__ import annotations

from sparkrig.report import REPORT_FILES
from sparkrig.report.markdown import MARKDOWN_FAILURE_LIMIT, render_markdown
from sparkrig.report.synthetic import synthetic_run
from sparkrig.results import RunResult, ScenarioResult, Status


def run_of(*results: ScenarioResult) -> RunResult:
    return RunResult(run_id="20250101T000000Z-abcd", started_at="2025-01-01T00:00:00Z",
                     ended_at="2025-01-01T00:01:00Z", scenarios=list(results))


def test_totals_row_counts_statuses() -> None:
    text = render_markdown(run_of(
        ScenarioResult(name="a", tier="smoke", status=Status.PASSED),
        ScenarioResult(name="b", tier="smoke", status=Status.FAILED, reason="boom"),
        ScenarioResult(name="c", tier="smoke", status=Status.SKIPPED),
    ), list(REPORT_FILES))

    assert "| 3 | 1 | 1 | 0 | 0 | 0 | 1 | 0 | 50.0% | 60.0s |" in text
    assert "❌ failed" in text


def test_failures_list_their_reason() -> None:
    text = render_markdown(run_of(
        ScenarioResult(name="connect-ready", tier="smoke", status=Status.TIMED_OUT,
                       reason="wait deployment/x timed out after 2m"),
    ), list(REPORT_FILES))

    row = "| connect-ready | smoke | timed_out | 0 | wait deployment/x timed out after 2m |"
    assert row in text


def test_artifacts_are_named() -> None:
    text = render_markdown(run_of(), list(REPORT_FILES))

    for name in REPORT_FILES:
        assert f"- `{name}`" in text
    assert "✅ passed" in text


def test_reason_cannot_break_the_table() -> None:
    text = render_markdown(run_of(
        ScenarioResult(name="a", tier="smoke", status=Status.FAILED,
                       reason="a | b\nc <b>bold</b> \x1b[31mred\x1b[0m"),
    ), list(REPORT_FILES))

    row = next(line for line in text.splitlines() if line.startswith("| a |"))
    assert row.count(" | ") == 4
    assert r"a \| b c \<b\>bold\</b\> red" in row


def test_failure_list_is_capped() -> None:
    run = synthetic_run(2000)
    text = render_markdown(run, list(REPORT_FILES))

    assert "more failures: see report.html or junit.xml" in text
    assert text.count("| scenario-") == MARKDOWN_FAILURE_LIMIT
    assert len(text.encode()) < 64 * 1024
