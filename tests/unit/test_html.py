"""report.html: self-contained, escaped, failures first, bounded in size."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sparkrig.report.html import render_html, write_html
from sparkrig.report.synthetic import synthetic_run
from sparkrig.results import Attempt, RunResult, ScenarioResult, Status

START = "2025-01-01T00:00:00+00:00"


class ResourceCollector(HTMLParser):
    """Collect every URL the page would load: scripts, styles, images, fonts, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "source") and values.get("src"):
            self.loads.append(values["src"] or "")
        if tag == "link":
            self.loads.append(values.get("href") or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")


def timed(name: str, status: Status, start_second: int, seconds: int,
          **fields: object) -> ScenarioResult:
    start = f"2025-01-01T00:00:{start_second:02d}+00:00"
    end = f"2025-01-01T00:00:{start_second + seconds:02d}+00:00"
    return ScenarioResult(name=name, tier="smoke", status=status, started_at=start, ended_at=end,
                          duration=float(seconds), **fields)  # type: ignore[arg-type]


def run_of(*results: ScenarioResult) -> RunResult:
    return RunResult(run_id="20250101T000000Z-abcd", started_at=START,
                     ended_at="2025-01-01T00:00:59+00:00", scenarios=list(results))


def test_page_loads_nothing_external(tmp_path: Path) -> None:
    collector = ResourceCollector()
    collector.feed(render_html(synthetic_run(100), tmp_path))

    assert collector.loads == []
    assert not [link for link in collector.links if re.match(r"[a-z]+://", link)]
    assert "@import" not in render_html(synthetic_run(5), tmp_path)


def test_scenario_output_is_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    page = render_html(run_of(timed("a", Status.FAILED, 0, 5, reason=hostile,
                                    output_tail=hostile)), tmp_path)

    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_failures_come_first(tmp_path: Path) -> None:
    page = render_html(run_of(timed("passing-one", Status.PASSED, 0, 5),
                              timed("failing-one", Status.FAILED, 0, 5, reason="boom")), tmp_path)

    failures = page.index('id="failures"')
    assert failures < page.index('id="timeline"') < page.index('id="scenarios"')
    assert page.index("failing-one") < page.index("passing-one")


def test_failure_shows_output_tail_and_relative_diagnostics(tmp_path: Path) -> None:
    diagnostics = tmp_path / "scenarios" / "a" / "diagnostics"
    diagnostics.mkdir(parents=True)
    (diagnostics / "events.txt").write_text("Warning BackOff\n")
    (tmp_path / "scenarios" / "a" / "output.log").write_text("helm install\nError: timed out\n")
    page = render_html(run_of(timed(
        "a", Status.FAILED, 0, 5, reason="install failed",
        output_path=str(tmp_path / "scenarios" / "a" / "output.log"),
        diagnostics_path="scenarios/a/diagnostics",
    )), tmp_path)

    assert "Error: timed out" in page
    assert 'href="scenarios/a/output.log"' in page
    assert 'href="scenarios/a/diagnostics/events.txt"' in page


def test_timeline_shows_overlapping_scenarios_in_lanes(tmp_path: Path) -> None:
    page = render_html(run_of(timed("a", Status.PASSED, 0, 10), timed("b", Status.PASSED, 5, 10),
                              timed("c", Status.PASSED, 12, 5)), tmp_path)

    lanes = sorted(int(y) for y in re.findall(r'<rect class="passed" x="[^"]*" y="(\d+)"', page))
    assert lanes == [2, 2, 16]
    assert "2 lanes" in page


def test_flaky_scenario_is_badged(tmp_path: Path) -> None:
    attempts = [Attempt(number=1, namespace="n1", release="r1", started_at=START, ended_at=START,
                        status=Status.ERROR),
                Attempt(number=2, namespace="n2", release="r2", started_at=START, ended_at=START,
                        status=Status.PASSED)]
    page = render_html(run_of(timed("wobbly", Status.PASSED, 0, 5, attempts=attempts)), tmp_path)

    assert 'data-flaky="1"' in page
    assert 'id="flaky"' in page


def test_thousand_scenarios_stay_small(tmp_path: Path) -> None:
    path = write_html(synthetic_run(1000), tmp_path)
    page = path.read_text()

    assert path.stat().st_size < 2 * 1024 * 1024
    assert page.count("<tr data-status=") == 1000


def test_huge_output_is_capped_per_failure(tmp_path: Path) -> None:
    page = render_html(run_of(timed("a", Status.FAILED, 0, 5, output_tail="y" * 5_000_000)),
                       tmp_path)

    assert len(page) < 100_000
    assert "bytes of 5000000 omitted" in page


def test_links_resolve_from_page_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The runner passes the run folder relative to the working directory, as in reports/<run_id>.
    monkeypatch.chdir(tmp_path)
    run_dir = Path("reports") / "20250101T000000Z-abcd"
    scenario_dir = run_dir / "scenarios" / "a"
    (scenario_dir / "diagnostics" / "pods").mkdir(parents=True)
    (scenario_dir / "diagnostics" / "events.txt").write_text("Warning BackOff\n")
    (scenario_dir / "diagnostics" / "pods" / "driver.log").write_text("log\n")
    (scenario_dir / "output.log").write_text("Error: timed out\n")
    run = run_of(timed("a", Status.FAILED, 0, 5, output_path="scenarios/a/output.log",
                       diagnostics_path="scenarios/a/diagnostics"))
    page = write_html(run, run_dir)

    collector = ResourceCollector()
    collector.feed(page.read_text(encoding="utf-8"))
    files = [link for link in collector.links if not link.startswith("#")]
    assert len(files) >= 4
    for link in files:
        assert (page.parent / link).exists(), link
