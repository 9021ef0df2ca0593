"""Reports of an interrupted run: verdict, ordering, peak parallelism, JUnit time."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from sparkrig.report.html import render_html
from sparkrig.report.junit import write_junit
from sparkrig.report.markdown import render_markdown
from sparkrig.report.summary import summarize
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status


def at(second: int) -> str:
    return f"2025-01-01T00:00:{second:02d}+00:00"


def attempted(name: str, status: Status, start: int, end: int) -> ScenarioResult:
    attempt = Attempt(number=1, namespace=f"ns-{name}", release="r", started_at=at(start),
                      ended_at=at(end), status=status)
    return ScenarioResult(name=name, tier="smoke", status=status, started_at=at(start),
                          ended_at=at(end), duration=float(end - start), attempts=[attempt])


def not_started(name: str) -> ScenarioResult:
    return ScenarioResult(name=name, tier="smoke", status=Status.INTERRUPTED,
                          reason="not started: run interrupted",
                          started_at=at(30), ended_at=at(30))


def interrupted_run() -> RunResult:
    return RunResult(
        run_id="20250101T000000Z-abcd", started_at=at(0), ended_at=at(30), max_parallel=4,
        scenarios=[
            not_started("aaa-never-ran"),
            attempted("broken", Status.FAILED, 0, 10),
            attempted("fine", Status.PASSED, 10, 20),  # starts when "broken" ends
            attempted("other", Status.PASSED, 0, 20),
            attempted("stopped", Status.INTERRUPTED, 20, 30),
        ],
    )


def test_verdict_is_interrupted() -> None:
    summary = summarize(interrupted_run())

    assert summary.verdict == "interrupted"
    assert summary.not_started == 1
    assert summary.interrupted_running == 1


def test_peak_ignores_touching_and_unstarted() -> None:
    assert summarize(interrupted_run()).peak_parallel == 2


def test_markdown_says_interrupted() -> None:
    text = render_markdown(interrupted_run(), [])

    assert "⏹️ interrupted" in text.splitlines()[0]
    assert "❌" not in text
    assert "interrupted: 1 stopped while running, 1 not started" in text
    assert "### Failures (1)" in text
    assert "aaa-never-ran (not started)" in text


def test_html_lists_interrupted_after_failures(tmp_path: Path) -> None:
    page = render_html(interrupted_run(), tmp_path)

    assert 'data-verdict="interrupted"' in page
    assert "Failures (1)" in page
    assert page.index('id="failures"') < page.index('id="interrupted"')
    assert page.index("broken") < page.index("aaa-never-ran")
    assert '<details class="failure interrupted"' not in page
    assert page.count("The scenario printed no output") == 1  # "broken" only


def test_junit_total_time_is_wall_time(tmp_path: Path) -> None:
    path = write_junit(interrupted_run(), tmp_path)

    root = etree.parse(str(path)).getroot()
    assert float(root.get("time")) == 30.0
    assert float(root.find("testsuite").get("time")) == 50.0
