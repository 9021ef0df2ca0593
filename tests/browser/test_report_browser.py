"""report.html in a real headless Chromium: the filter script runs and the page renders.

Chromium is Debian's `chromium` package (`scripts/setup.sh --dev` installs it).
`--dump-dom` prints the DOM after the page's inline script ran, so the
`data-visible-rows` attribute the script sets shows how many table rows a URL
fragment's filters left visible. The screenshot is kept under
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sparkrig.report import write_reports
from sparkrig.report.synthetic import synthetic_run
from sparkrig.results import Status

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_TIMEOUT_SECONDS = 120

# Flags that keep Chromium offline and stateless: no sandbox (tests may run as
# root), no GPU, no QUIC, and no background, update or sync traffic.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed; run scripts/setup.sh --dev"
)


def chromium(profile: Path, *arguments: str) -> str:
    assert CHROMIUM is not None
    completed = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def visible_rows(dom: str) -> int:
    match = re.search(r'data-visible-rows="(\d+)"', dom)
    assert match is not None, "the filter script did not run: no data-visible-rows on <html>"
    return int(match.group(1))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    run = synthetic_run(120)
    run_dir = tmp_path_factory.mktemp("run")
    write_reports(run, run_dir)
    counts = {
        "failed": sum(1 for result in run.scenarios if result.status is Status.FAILED),
        "smoke": sum(1 for result in run.scenarios if result.tier == "smoke"),
        "failed-smoke": sum(1 for result in run.scenarios
                            if result.status is Status.FAILED and result.tier == "smoke"),
        "total": len(run.scenarios),
    }
    return run_dir / "report.html", counts


@needs_chromium
def test_unfiltered_page_shows_every_row(report: tuple[Path, dict[str, int]],
                                         tmp_path: Path) -> None:
    page, counts = report

    dom = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())

    assert visible_rows(dom) == counts["total"]


@needs_chromium
def test_fragment_filters_by_status_and_tier(report: tuple[Path, dict[str, int]],
                                             tmp_path: Path) -> None:
    page, counts = report

    dom = chromium(tmp_path / "profile", "--dump-dom", f"{page.as_uri()}#status=failed&tier=smoke")

    assert counts["failed-smoke"] > 0
    assert visible_rows(dom) == counts["failed-smoke"]
    assert f'{counts["failed-smoke"]} of {counts["total"]} shown' in dom


@needs_chromium
def test_query_string_filters_by_name(report: tuple[Path, dict[str, int]],
                                      tmp_path: Path) -> None:
    page, _ = report

    dom = chromium(tmp_path / "profile", "--dump-dom", f"{page.as_uri()}?q=scenario-0001")

    assert visible_rows(dom) == 10


@needs_chromium
def test_screenshot_is_kept(report: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    page, _ = report
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)

    chromium(tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,1800",
             page.as_uri())

    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
